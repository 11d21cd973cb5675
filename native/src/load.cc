// load.cc — see load.h.
#include "load.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "addon.h"
#include "clock.h"
#include "er_shell.skel.h"
#include "errors.h"
#include "libbpf_log.h"
#include "process.h"
#include "quiet_thread.h"

namespace {

// The syscall tracepoints the programs are attached to. A syscall this architecture does not have
// has no tracepoint (arm64 has neither open(2) nor creat(2)): its programs are not loaded.
enum SyscallTracepoint {
  TP_ENTER_EXECVE,
  TP_EXIT_EXECVE,
  TP_ENTER_EXECVEAT,
  TP_EXIT_EXECVEAT,
  TP_ENTER_OPENAT,
  TP_EXIT_OPENAT,
  TP_ENTER_OPENAT2,
  TP_EXIT_OPENAT2,
  TP_ENTER_OPEN,
  TP_EXIT_OPEN,
  TP_ENTER_CREAT,
  TP_EXIT_CREAT,
  TP_COUNT
};

const char *const kTracepointNames[TP_COUNT] = {
    "sys_enter_execve", "sys_exit_execve", "sys_enter_execveat", "sys_exit_execveat",
    "sys_enter_openat", "sys_exit_openat", "sys_enter_openat2",  "sys_exit_openat2",
    "sys_enter_open",   "sys_exit_open",   "sys_enter_creat",    "sys_exit_creat",
};

// Whether this architecture has the syscall, as far as the headers the addon was built with know:
// what is assumed while tracefs cannot tell (not mounted yet when `record` preloads).
bool SyscallKnown(int tp) {
  switch (tp) {
    case TP_ENTER_OPEN:
    case TP_EXIT_OPEN:
#ifdef SYS_open
      return true;
#else
      return false;
#endif
    case TP_ENTER_CREAT:
    case TP_EXIT_CREAT:
#ifdef SYS_creat
      return true;
#else
      return false;
#endif
    default: return true;
  }
}

// Bit i set: syscalls/kTracepointNames[i] exists here. Read from tracefs where it is mounted.
uint32_t PresentTracepoints() {
  static const char *const kRoots[] = {"/sys/kernel/tracing/events/syscalls",
                                       "/sys/kernel/debug/tracing/events/syscalls"};
  uint32_t mask = 0;
  for (const char *root : kRoots) {
    if (access(root, X_OK) != 0) continue;
    for (int i = 0; i < TP_COUNT; i++) {
      std::string dir = std::string(root) + "/" + kTracepointNames[i];
      if (access(dir.c_str(), F_OK) == 0) mask |= 1u << i;
    }
    return mask;
  }
  for (int i = 0; i < TP_COUNT; i++)
    if (SyscallKnown(i)) mask |= 1u << i;
  return mask;
}

// ER_SHELL_<name>=0 or 1 forces a feature off or on; otherwise -1 (probe it).
int FeatureOverride(const char *name) {
  const char *v = getenv(name);
  if (v && std::strcmp(v, "0") == 0) return 0;
  if (v && std::strcmp(v, "1") == 0) return 1;
  return -1;
}

// Whether a tracepoint program may call `helper` on this kernel: libbpf loads a tiny program that
// calls it and reads the verifier's answer.
bool HelperAvailable(enum bpf_func_id helper) {
  return libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, helper, nullptr) == 1;
}

// A program that walks a loop comes in two variants (er_shell.bpf.c): `loop` uses bpf_loop, `noloop`
// a bounded loop; the others have `noloop` null. Syscall tracepoint programs are attached by name
// to each tracepoint of theirs that exists here (execve and execveat share their programs, the
// open family its exit program); the BTF tracepoint programs at their section.
struct Hook {
  struct bpf_program *loop;
  struct bpf_program *noloop;
  std::vector<int> tracepoints;  // SyscallTracepoint; empty: attached at its section
  bool cgroup = false;           // attached to the session cgroup at begin (AttachCgroupPrograms)
};

struct Hooks {
  std::vector<Hook> command, disk, network, policy, always, check;
};

Hooks HooksOf(struct er_shell *skel) {
  auto &p = skel->progs;
  Hooks h;
  h.command = {{p.on_exec_enter, p.on_exec_enter_noloop, {TP_ENTER_EXECVE, TP_ENTER_EXECVEAT}},
               {p.on_exec_exit, p.on_exec_exit_noloop, {TP_EXIT_EXECVE, TP_EXIT_EXECVEAT}},
               {p.on_exec_image, p.on_exec_image_noloop, {}}};
  h.disk = {{p.on_openat_enter, nullptr, {TP_ENTER_OPENAT}},
            {p.on_openat2_enter, nullptr, {TP_ENTER_OPENAT2}},
            {p.on_open_enter, nullptr, {TP_ENTER_OPEN}},
            {p.on_creat_enter, nullptr, {TP_ENTER_CREAT}},
            {p.on_open_exit, p.on_open_exit_noloop, {TP_EXIT_OPENAT, TP_EXIT_OPENAT2, TP_EXIT_OPEN, TP_EXIT_CREAT}}};
  h.network = {{p.on_sock_state, nullptr, {}}, {p.on_egress, nullptr, {}, true}};
  h.policy = {{p.on_connect4, nullptr, {}, true},
              {p.on_connect6, nullptr, {}, true},
              {p.on_sendmsg4, nullptr, {}, true},
              {p.on_sendmsg6, nullptr, {}, true}};
  h.always = {{p.on_fork, nullptr, {}}, {p.on_exit, nullptr, {}}, {p.on_cgroup_attach, nullptr, {}}};
  h.check = {{p.on_cgroup_check, nullptr, {TP_ENTER_EXECVE}}};
  return h;
}

// Where a program is attached: its own section's tracepoint, or a syscall tracepoint (`name` set).
struct Attachment {
  struct bpf_program *prog;
  const char *category = nullptr;
  const char *name = nullptr;
};

// Every attachment of the programs chosen for loading, in a fixed order.
std::vector<Attachment> Attachments(struct er_shell *skel, uint32_t tracepoints) {
  std::vector<Attachment> out;
  Hooks h = HooksOf(skel);
  for (const auto *group : {&h.always, &h.command, &h.disk, &h.network, &h.check}) {
    for (const Hook &hook : *group) {
      if (hook.cgroup) continue;
      for (struct bpf_program *prog : {hook.loop, hook.noloop}) {
        if (!prog || !bpf_program__autoload(prog)) continue;
        if (hook.tracepoints.empty()) out.push_back({prog});
        for (int tp : hook.tracepoints)
          if (tracepoints & (1u << tp)) out.push_back({prog, "syscalls", kTracepointNames[tp]});
      }
    }
  }
  return out;
}

// A load that failed at `what`: nothing of it is kept.
Loaded Failed(Loaded &out, int err, const std::string &what, const LibbpfLogCapture &log) {
  out.Dispose();
  out.err = err ? err : EINVAL;
  out.what = what;
  out.log = log.Tail();
  return std::move(out);
}

}  // namespace

bool LoadParams::operator==(const LoadParams &o) const {
  return kinds == o.kinds && std::memcmp(ring_bytes, o.ring_bytes, sizeof(ring_bytes)) == 0 &&
         cgroup_check == o.cgroup_check && net_policy == o.net_policy && tracepoints == o.tracepoints;
}

LoadParams LoadParamsFrom(Napi::Env env, Napi::Object o) {
  LoadParams p;
  Napi::Value kinds = o.Get("kinds");
  if (!kinds.IsArray()) throw Napi::TypeError::New(env, "kinds must be an array of event kinds");
  Napi::Array names = kinds.As<Napi::Array>();
  for (uint32_t i = 0; i < names.Length(); i++) {
    Napi::Value v = names.Get(i);
    std::string name = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
    if (name == "command")
      p.kinds |= 1u << ER_KIND_COMMAND;
    else if (name == "disk")
      p.kinds |= 1u << ER_KIND_DISK;
    else if (name == "network")
      p.kinds |= 1u << ER_KIND_NETWORK;
    else
      throw Napi::TypeError::New(env, "unknown event kind: " + name);
  }
  Napi::Value check = o.Get("cgroupCheck");
  p.cgroup_check = check.IsBoolean() ? check.As<Napi::Boolean>().Value() : check.IsObject();
  Napi::Value policy = o.Get("netPolicy");
  p.net_policy = policy.IsBoolean() && policy.As<Napi::Boolean>().Value();
  if (p.net_policy && !(p.kinds & (1u << ER_KIND_NETWORK)))
    throw Napi::TypeError::New(env, "a network policy needs the network event kind");
  p.ring_bytes[ER_KIND_COMMAND] = o.Get("commandRingBytes").As<Napi::Number>().Uint32Value();
  p.ring_bytes[ER_KIND_DISK] = o.Get("diskRingBytes").As<Napi::Number>().Uint32Value();
  p.ring_bytes[ER_KIND_NETWORK] = o.Get("networkRingBytes").As<Napi::Number>().Uint32Value();
  for (int k = ER_KIND_COMMAND; k <= ER_KIND_NETWORK; k++) {
    uint32_t b = p.ring_bytes[k];
    if (b < 4096 || (b & (b - 1)) != 0)
      throw Napi::RangeError::New(env, "ring sizes must be a power of two of at least one page");
  }
  p.tracepoints = PresentTracepoints();
  p.before_load = InstanceOf(env).options.before_load;
  return p;
}

void Loaded::Dispose() {
  DestroyLinks(links);
  if (skel) er_shell__destroy(skel);
  skel = nullptr;
}

// A failed load or attach: "what: strerror (CODE): reason" (LibbpfReason) on the first line, libbpf's
// log after it; `reason` and `log` on their own too.
Napi::Error LoadError(Napi::Env env, int err, const std::string &what, const std::string &log) {
  Napi::Error e = ErrnoError(env, err, what);
  std::string reason = LibbpfReason(log);
  std::string message = e.Get("message").As<Napi::String>().Utf8Value();
  if (!reason.empty()) message += ": " + reason;
  if (!log.empty()) message += "\n" + log;
  e.Set("message", Napi::String::New(env, message));
  e.Set("reason", Napi::String::New(env, reason));
  e.Set("log", Napi::String::New(env, log));
  return e;
}

// Destroys links without waiting for the kernel: destroying a tracepoint link waits for it
// (~35-70 ms each on this machine, serialized by the kernel), so a detached grandchild holding
// copies of the link fds does that wait off our path and our own closes are then instant. When
// fork fails, they are destroyed concurrently here.
void DestroyLinks(std::vector<struct bpf_link *> &links) {
  std::vector<int> fds;
  for (struct bpf_link *link : links) fds.push_back(bpf_link__fd(link));
  BackgroundRelease background(fds);  // lets go once our copies are closed (end of scope)
  bool released = background.ok();
  std::vector<std::thread> workers;
  workers.reserve(links.size());
  for (struct bpf_link *link : links) {
    if (released)
      bpf_link__destroy(link);
    else
      workers.emplace_back([link] { bpf_link__destroy(link); });
  }
  for (auto &w : workers) w.join();
  links.clear();
}

int AttachCgroupPrograms(struct er_shell *skel, int cgroup_fd, std::vector<struct bpf_link *> *out, std::string *what) {
  Hooks h = HooksOf(skel);
  for (const auto *group : {&h.network, &h.policy}) {
    for (const Hook &hook : *group) {
      if (!hook.cgroup || !bpf_program__autoload(hook.loop)) continue;
      struct bpf_link *link = bpf_program__attach_cgroup(hook.loop, cgroup_fd);
      if (!link) {
        *what = std::string("attach ") + bpf_program__name(hook.loop) + " (" + bpf_program__section_name(hook.loop) +
                ") to the session cgroup";
        return errno ? errno : EINVAL;
      }
      out->push_back(link);
    }
  }
  return 0;
}

// Makes the attachments `out` does not have yet. Returns 0, or the errno of the first one that
// failed (`*what` names it); those made so far stay in `out`.
int AttachRemaining(Loaded &out, std::string *what) {
  std::vector<Attachment> all = Attachments(out.skel, out.tracepoints);
  for (size_t i = out.links.size(); i < all.size(); i++) {
    const Attachment &a = all[i];
    struct bpf_link *link =
        a.name ? bpf_program__attach_tracepoint(a.prog, a.category, a.name) : bpf_program__attach(a.prog);
    if (!link) {
      *what = std::string("attach ") + bpf_program__name(a.prog) + " (" +
              (a.name ? std::string("tracepoint/") + a.category + "/" + a.name : bpf_program__section_name(a.prog)) +
              ")";
      return errno ? errno : EINVAL;
    }
    out.links.push_back(link);
  }
  return 0;
}

Loaded OpenAndLoad(const LoadParams &p) {
  LibbpfLogCapture log;
  Loaded out;
  auto failed = [&](int err, const std::string &what) { return Failed(out, err, what, log); };

  auto t0 = Clock::now();
  out.skel = er_shell__open();
  int open_err = errno;
  if (!out.skel) return failed(open_err, "open BPF object");
  struct er_shell *skel = out.skel;
  bpf_map__set_max_entries(skel->maps.rb_command, p.ring_bytes[ER_KIND_COMMAND]);
  bpf_map__set_max_entries(skel->maps.rb_disk, p.ring_bytes[ER_KIND_DISK]);
  bpf_map__set_max_entries(skel->maps.rb_network, p.ring_bytes[ER_KIND_NETWORK]);
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return failed(-ncpu, "count possible CPUs");
  out.ncpu = ncpu;
  bpf_map__set_max_entries(skel->maps.scratch, ncpu);

  // The kernel's features, probed (libbpf loads a tiny program calling the helper for each)
  // unless ER_SHELL_BPF_LOOP / ER_SHELL_BPF_ANCESTOR_HELPER force them: 0 loads what a kernel
  // without them gets (tests prove those programs on a kernel that has both).
  int force_loop = FeatureOverride("ER_SHELL_BPF_LOOP");
  int force_ancestor = FeatureOverride("ER_SHELL_BPF_ANCESTOR_HELPER");
  out.features.bpf_loop = force_loop >= 0 ? force_loop == 1 : HelperAvailable(BPF_FUNC_loop);
  out.features.ancestor_helper =
      force_ancestor >= 0 ? force_ancestor == 1 : HelperAvailable(BPF_FUNC_get_current_ancestor_cgroup_id);
  skel->rodata->ancestor_helper = out.features.ancestor_helper;
  skel->rodata->record_exits = p.kinds & (1u << ER_KIND_COMMAND);
  skel->rodata->skb_pid_helper =
      libbpf_probe_bpf_helper(BPF_PROG_TYPE_CGROUP_SKB, BPF_FUNC_get_current_pid_tgid, nullptr) == 1;
  skel->rodata->coarse_helper =
      libbpf_probe_bpf_helper(BPF_PROG_TYPE_CGROUP_SKB, BPF_FUNC_ktime_get_coarse_ns, nullptr) == 1;
  skel->rodata->execveat_nr = SYS_execveat;

  // Only what the kinds need, in the chosen variant, and only programs with a tracepoint here.
  out.tracepoints = p.tracepoints;
  const char *missing = nullptr;
  for (int tp : {TP_ENTER_EXECVE, TP_EXIT_EXECVE, TP_ENTER_OPENAT, TP_EXIT_OPENAT})
    if (!(p.tracepoints & (1u << tp)) && !missing) missing = kTracepointNames[tp];
  Hooks hooks = HooksOf(skel);
  auto choose = [&](const std::vector<Hook> &group, bool wanted) {
    for (const Hook &h : group) {
      bool exists = h.tracepoints.empty();
      for (int tp : h.tracepoints) exists = exists || (p.tracepoints & (1u << tp));
      bool load = wanted && exists;
      if (h.noloop) {
        bpf_program__set_autoload(h.loop, load && out.features.bpf_loop);
        bpf_program__set_autoload(h.noloop, load && !out.features.bpf_loop);
      } else {
        bpf_program__set_autoload(h.loop, load);
      }
    }
  };
  bool command = p.kinds & (1u << ER_KIND_COMMAND);
  bool disk = p.kinds & (1u << ER_KIND_DISK);
  // execve's and openat's tracepoints exist on every architecture with syscall tracepoints: when
  // one is missing, the kernel was built without them (CONFIG_FTRACE_SYSCALLS).
  if (missing && (command || disk || p.cgroup_check)) {
    return failed(ENOENT,
                  std::string("find tracepoint syscalls/") + missing + " (the kernel needs CONFIG_FTRACE_SYSCALLS=y)");
  }
  choose(hooks.always, true);
  choose(hooks.command, command);
  choose(hooks.disk, disk);
  choose(hooks.network, p.kinds & (1u << ER_KIND_NETWORK));
  choose(hooks.policy, p.net_policy);
  choose(hooks.check, p.cgroup_check);
  if (p.before_load) p.before_load(skel);
  out.open_ms = MsSince(t0);

  auto t1 = Clock::now();
  int err = er_shell__load(skel);
  if (err) return failed(-err, "load BPF programs");
  out.load_ms = MsSince(t1);

  auto t2 = Clock::now();
  std::string ignored;
  AttachRemaining(out, &ignored);
  out.attach_ms = MsSince(t2);
  return out;
}

// probe.captureObject(params): what `record` does up to the session, for check-kernel: loads the
// object with the same parameters and variant selection (on a quiet thread), attaches every program
// (the cgroup programs to params.cgroupDir, when given),
// then detaches and destroys it all before returning, in the foreground (check-kernel leaves nothing
// behind). Throws an Error with `code`, `log` (libbpf's) and `reason` (its meaningful lines).
Napi::Value CaptureObject(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "captureObject(params)");
  LoadParams params = LoadParamsFrom(env, info[0].As<Napi::Object>());
  Loaded loaded;
  RunQuietly([&] { loaded = OpenAndLoad(params); });
  std::string what;
  int err = loaded.err;
  std::string log = loaded.log;
  if (!err) {
    LibbpfLogCapture capture;
    auto t = Clock::now();
    err = AttachRemaining(loaded, &what);
    // The cgroup programs (network capture, policy) on the caller's scratch cgroup, if it gave one.
    Napi::Value dir = info[0].As<Napi::Object>().Get("cgroupDir");
    if (!err && dir.IsString()) {
      std::string path = dir.As<Napi::String>().Utf8Value();
      int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd < 0) {
        err = errno;
        what = "open cgroup " + path;
      } else {
        err = AttachCgroupPrograms(loaded.skel, fd, &loaded.links, &what);
        close(fd);
      }
    }
    loaded.attach_ms += MsSince(t);
    log = capture.Tail();
  } else {
    what = loaded.what;
  }
  std::vector<std::string> programs;
  if (loaded.skel) {
    struct bpf_program *prog;
    bpf_object__for_each_program(prog, loaded.skel->obj) {
      if (bpf_program__autoload(prog)) programs.push_back(bpf_program__name(prog));
    }
  }
  size_t links = loaded.links.size();
  auto t = Clock::now();
  std::vector<std::thread> workers;  // the kernel waits per tracepoint link: in parallel
  for (struct bpf_link *link : loaded.links) workers.emplace_back([link] { bpf_link__destroy(link); });
  for (auto &w : workers) w.join();
  loaded.links.clear();
  loaded.Dispose();
  double detach_ms = MsSince(t);
  if (err) throw LoadError(env, err, what, log);
  Napi::Object out = Napi::Object::New(env);
  out.Set("bpfLoop", loaded.features.bpf_loop);
  out.Set("ancestorHelper", loaded.features.ancestor_helper);
  Napi::Array names = Napi::Array::New(env, programs.size());
  for (size_t i = 0; i < programs.size(); i++) names.Set(i, programs[i]);
  out.Set("programs", names);
  out.Set("links", static_cast<double>(links));
  out.Set("openMs", loaded.open_ms);
  out.Set("loadMs", loaded.load_ms);
  out.Set("attachMs", loaded.attach_ms);
  out.Set("detachMs", detach_ms);
  return out;
}
