// Config files for the config tests: a directory to write them in, and a realistic teleport.yaml.
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import type {TestContext} from 'node:test'

import {tempDir} from './temp.js'

export interface ConfigDir {
  dir: string
  /** Writes `text` to `name` in the directory; returns its absolute path. */
  write(name: string, text: string): string
  /** An absolute path in the directory that does not exist. */
  missing(name: string): string
}

/** A temporary directory for config files, removed when the test ends. */
export function configDir(t: TestContext): ConfigDir {
  const dir = tempDir('er-shell-config-', t)
  return {
    dir,
    write(name, text) {
      const path = join(dir, name)
      writeFileSync(path, text)
      return path
    },
    missing: (name) => join(dir, name),
  }
}

/** A realistic teleport.yaml (v3) of an all-in-one node: auth, proxy and ssh with enhanced recording. */
export const TELEPORT_YAML = `#
# Teleport configuration: auth + proxy + node on one host.
#
version: v3
teleport:
  nodename: db-7
  data_dir: /var/lib/teleport
  join_params:
    token_name: /var/lib/teleport/token
    method: token
  proxy_server: teleport.example.com:443
  log:
    output: stderr
    severity: INFO
    format:
      output: text
  ca_pin: ["sha256:0a1b2c"]
  diag_addr: ""

auth_service:
  enabled: "yes"
  cluster_name: example-prod
  listen_addr: 0.0.0.0:3025
  proxy_listener_mode: multiplex
  authentication:
    type: local
    second_factor: on
    webauthn:
      rp_id: teleport.example.com
  session_recording: node

proxy_service:
  enabled: "yes"
  web_listen_addr: 0.0.0.0:443
  public_addr: teleport.example.com:443
  https_keypairs: []
  acme:
    enabled: yes
    email: ops@example.com

ssh_service:
  enabled: "yes"
  labels:
    env: prod
    role: database
  commands:
  - name: hostname
    command: [hostname]
    period: 1m0s
  enhanced_recording:
    enabled: true
    command_buffer_size: 16
    disk_buffer_size: 256
    network_buffer_size: 8
    cgroup_path: /sys/fs/cgroup/unified
    root_path: /teleport
  pam:
    enabled: false
    service_name: teleport
`
