// load.h — the capture engine's BPF object: the parameters a load depends on, opening it with the
// programs (and their variant) this kernel takes, loading and attaching them, and releasing it all.
//
// A load depends only on LoadParams, never on the session: the attached programs match nothing
// until the session cgroup is written to .bss (engine.h). That is what lets `record` start it early
// (preload.h) and check-kernel prove it (probe.captureObject) with the very same code.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "er_shell.h"

struct er_shell;
struct bpf_link;

// Called on the loading thread just before the object is loaded (its programs chosen). Only the
// test addon (native/test/) sets one; see AddonOptions in addon.h.
using BeforeLoad = void (*)(struct er_shell *skel);

// Everything a load depends on. The session cgroup is not part of it: it is written after load.
struct LoadParams {
  uint32_t kinds = 0;  // bit ER_KIND_COMMAND/DISK/NETWORK set: load that kind's programs
  uint32_t ring_bytes[ER_KIND_NETWORK + 1] = {};
  bool cgroup_check = false;         // load (and attach) on_cgroup_check
  bool net_policy = false;           // load the network policy's cgroup sock_addr programs
  uint32_t tracepoints = 0;          // the syscall tracepoints present when the parameters were read
  BeforeLoad before_load = nullptr;  // the addon's, the same for every load of it: not compared

  bool operator==(const LoadParams &o) const;
};

// Reads LoadParams from a JS options object ({kinds, commandRingBytes, diskRingBytes,
// networkRingBytes, cgroupCheck, netPolicy}; kinds: an array of 'command', 'disk', 'network'); throws a
// TypeError for an unknown kind and a RangeError for sizes the kernel would refuse.
LoadParams LoadParamsFrom(Napi::Env env, Napi::Object o);

// The variant chosen for loading, and what the kernel offers.
struct Features {
  bool bpf_loop = false;         // bpf_loop() (Linux 5.17+)
  bool ancestor_helper = false;  // bpf_get_current_ancestor_cgroup_id() in tracing programs (5.14+)
};

// The outcome of opening, loading and attaching the BPF object; whoever takes it owns `skel` and
// `links` (one per attachment made so far, in attachment order; see Dispose).
struct Loaded {
  struct er_shell *skel = nullptr;
  std::vector<struct bpf_link *> links;
  uint32_t tracepoints = 0;  // LoadParams::tracepoints
  Features features;
  int ncpu = 0;
  int err = 0;       // positive errno when the load failed
  std::string what;  // the step that failed
  std::string log;   // the tail of libbpf's log then
  double open_ms = 0;
  double load_ms = 0;
  double attach_ms = 0;

  // Detaches and destroys whatever it holds.
  void Dispose();
};

// Opens the object, sizes its maps, chooses the programs for `p.kinds` (in the variant this kernel
// takes, for the tracepoints it has), loads them (verifier included) and attaches them, on the
// calling thread, which must take no signals (quiet_thread.h). They match nothing until the session
// cgroup is written to .bss. A failed attach is not an error here: tracefs may not be mounted yet
// (CaptureEngine.start() mounts it), and the engine attaches what is left (AttachRemaining).
Loaded OpenAndLoad(const LoadParams &p);

// Makes the attachments `out` does not have yet. Returns 0, or the errno of the first one that
// failed (`*what` names it); those made so far stay in `out`.
int AttachRemaining(Loaded &out, std::string *what);

// Attaches the loaded cgroup programs (network capture's egress program, the policy's sock_addr
// programs) to the cgroup open at `cgroup_fd`; the session cgroup's descendants inherit them.
// Returns 0, or the errno of the first one that failed (`*what` names it); the links made so far
// are in `out`.
int AttachCgroupPrograms(struct er_shell *skel, int cgroup_fd, std::vector<struct bpf_link *> *out, std::string *what);

// Destroys links without waiting for the kernel (see load.cc) and empties `links`.
void DestroyLinks(std::vector<struct bpf_link *> &links);

// A failed load or attach: "what: strerror (CODE): reason" (LibbpfReason) on the first line,
// libbpf's log after it; `reason` and `log` on their own too.
Napi::Error LoadError(Napi::Env env, int err, const std::string &what, const std::string &log);

// probe.captureObject(params) for check-kernel: loads, attaches and releases the real object.
Napi::Value CaptureObject(const Napi::CallbackInfo &info);
