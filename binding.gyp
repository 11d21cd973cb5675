{
  # The addon's sources are built once, into er_shell_core, and linked into the production addon
  # (er_shell.node) and, in a checkout, into the test addon (er_shell_test.node, native/test/: the
  # same code plus what only tests use; not in the package, whose install builds without it).
  "variables": {
    "er_shell_test%": "<!(node -p \"require('fs').existsSync('native/test/test_addon.cc') ? 1 : 0\")",
    "er_shell_netprobe%": "<!(node -p \"require('fs').existsSync('test/helpers/netprobe.c') ? 1 : 0\")"
  },
  "target_defaults": {
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "bpf/.output", "bpf", "native/src"],
    "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
    "cflags_cc!": ["-fno-exceptions"],
    "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"]
  },
  "targets": [
    {
      "target_name": "er_shell_core",
      "type": "static_library",
      "cflags": ["-fPIC"],
      "sources": ["native/src/engine.cc", "native/src/layout.cc", "native/src/libbpf_log.cc", "native/src/lines.cc", "native/src/load.cc", "native/src/preload.cc", "native/src/probe.cc", "native/src/process.cc", "native/src/pump.cc", "native/src/quiet_thread.cc", "native/src/register.cc"],
      "link_settings": {"libraries": ["-lbpf", "-lelf", "-lz", "-lpthread"]}
    },
    {
      "target_name": "er_shell",
      "dependencies": ["er_shell_core"],
      "sources": ["native/src/addon.cc"]
    },
    {
      "target_name": "er-shell-join",
      "type": "executable",
      "sources": ["native/src/join.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-O2"]
    }
  ],
  "conditions": [
    ["er_shell_test==1", {
      "targets": [
        {
          "target_name": "er_shell_test",
          "dependencies": ["er_shell_core"],
          "sources": ["native/test/test_addon.cc"]
        },
        {
          # A copy named er_shell.node in build/Release/test/, for ER_SHELL_NATIVE_DIR (testAddonDir()
          # in src/native/index.ts): CLI runs that need the test addon's hooks load it as the addon.
          "target_name": "er_shell_test_dir",
          "type": "none",
          "dependencies": ["er_shell_test"],
          "actions": [{
            "action_name": "test_addon_as_er_shell",
            "inputs": ["<(PRODUCT_DIR)/er_shell_test.node"],
            "outputs": ["<(PRODUCT_DIR)/test/er_shell.node"],
            "action": ["cp", "-f", "<@(_inputs)", "<@(_outputs)"]
          }]
        }
      ]
    }],
    ["er_shell_netprobe==1", {
      "targets": [
        {
          # test/helpers/netprobe.c: the network attempts (connect, UDP sends, DNS, io_uring, fork,
          # leaving the cgroup) of test/acceptance/network/ and of the bench's UDP storm.
          "target_name": "netprobe",
          "type": "executable",
          "sources": ["test/helpers/netprobe.c"],
          "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-O2"],
          "libraries": ["-luring"]
        }
      ]
    }]
  ]
}
