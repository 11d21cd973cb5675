// engine.cc — the capture engine: one Engine object owns the loaded BPF skeleton, its links, the
// ring-buffer poll thread and the thread-safe function that hands JS *batches* of raw records.
//
// Order: open → map sizes and programs → load and attach (on a thread that takes no signals, see
// quiet_thread.h) → cgroup id check → session cgroup into .bss → poll → stop (drain, detach every
// link, destroy). Until the session cgroup is written the attached programs match nothing, and
// the load depends only on the event kinds and ring sizes: `record` starts it with preload()
// while the rest of er-shell is still starting, and start() adopts it when those match. Errors
// never abort the process: start() throws an Error with `code`; a poll failure reaches JS through
// onError.
#include "engine.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "er_shell.h"
#include "er_shell.skel.h"
#include "errors.h"
#include "layout.h"
#include "libbpf_log.h"
#include "lines.h"
#include "process.h"
#include "quiet_thread.h"

namespace {

using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

struct Batch {
  std::vector<uint8_t> bytes;
  int error = 0;  // when non-zero, a poll error (positive errno) instead of records
};

struct Lost {
  uint64_t v[ER_NKINDS] = {};
};

// ------------------------------------------------------------------------------------ loading

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
    default:
      return true;
  }
}

// Bit i set: syscalls/kTracepointNames[i] exists here. Read from tracefs where it is mounted.
uint32_t PresentTracepoints() {
  static const char *const kRoots[] = {"/sys/kernel/tracing/events/syscalls", "/sys/kernel/debug/tracing/events/syscalls"};
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

// Everything a load depends on. The session cgroup is not part of it: it is written after load.
struct LoadParams {
  uint32_t kinds = 0;
  uint32_t ring_bytes[ER_KIND_NETWORK + 1] = {};
  bool cgroup_check = false;  // load (and attach) on_cgroup_check
  uint32_t tracepoints = 0;   // PresentTracepoints() when the parameters were read

  bool operator==(const LoadParams &o) const {
    return kinds == o.kinds && std::memcmp(ring_bytes, o.ring_bytes, sizeof(ring_bytes)) == 0 &&
           cgroup_check == o.cgroup_check && tracepoints == o.tracepoints;
  }
};

// Reads LoadParams from a JS options object ({kinds, commandRingBytes, diskRingBytes,
// networkRingBytes, cgroupCheck}); throws a RangeError for sizes the kernel would refuse.
LoadParams LoadParamsFrom(Napi::Env env, Napi::Object o) {
  LoadParams p;
  p.kinds = o.Get("kinds").As<Napi::Number>().Uint32Value();
  Napi::Value check = o.Get("cgroupCheck");
  p.cgroup_check = check.IsBoolean() ? check.As<Napi::Boolean>().Value() : check.IsObject();
  p.ring_bytes[ER_KIND_COMMAND] = o.Get("commandRingBytes").As<Napi::Number>().Uint32Value();
  p.ring_bytes[ER_KIND_DISK] = o.Get("diskRingBytes").As<Napi::Number>().Uint32Value();
  p.ring_bytes[ER_KIND_NETWORK] = o.Get("networkRingBytes").As<Napi::Number>().Uint32Value();
  for (int k = ER_KIND_COMMAND; k <= ER_KIND_NETWORK; k++) {
    uint32_t b = p.ring_bytes[k];
    if (b < 4096 || (b & (b - 1)) != 0)
      throw Napi::RangeError::New(env, "ring sizes must be a power of two of at least one page");
  }
  p.tracepoints = PresentTracepoints();
  return p;
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

// A program that walks a loop comes in two variants (er_shell.bpf.c): `loop` uses bpf_loop, `noloop`
// a bounded loop; the others have `noloop` null. Syscall tracepoint programs are attached by name
// to each tracepoint of theirs that exists here (execve and execveat share their programs, the
// open family its exit program); the BTF tracepoint programs at their section.
struct Hook {
  struct bpf_program *loop;
  struct bpf_program *noloop;
  std::vector<int> tracepoints;  // SyscallTracepoint; empty: attached at its section
};

// The variant chosen for loading, and what the kernel offers.
struct Features {
  bool bpf_loop = false;         // bpf_loop() (Linux 5.17+)
  bool ancestor_helper = false;  // bpf_get_current_ancestor_cgroup_id() in tracing programs (5.14+)
};

struct Hooks {
  std::vector<Hook> command, disk, network, always, check;
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
  h.network = {{p.on_sock_state, nullptr, {}}};
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

// The outcome of opening, loading and attaching the BPF object; whoever takes it owns `skel` and
// `links` (one per attachment made so far, in Attachments() order; see Dispose).
struct Loaded {
  struct er_shell *skel = nullptr;
  std::vector<struct bpf_link *> links;
  uint32_t tracepoints = 0;  // LoadParams::tracepoints
  Features features;
  int ncpu = 0;
  int err = 0;        // positive errno when the load failed
  std::string what;   // the step that failed
  std::string log;    // the tail of libbpf's log then
  double open_ms = 0;
  double load_ms = 0;
  double attach_ms = 0;

  // Detaches and destroys whatever it holds.
  void Dispose() {
    DestroyLinks(links);
    if (skel) er_shell__destroy(skel);
    skel = nullptr;
  }
};

// Makes the attachments `out` does not have yet. Returns 0, or the errno of the first one that
// failed (`*what` names it); those made so far stay in `out`.
int AttachRemaining(Loaded &out, std::string *what) {
  std::vector<Attachment> all = Attachments(out.skel, out.tracepoints);
  for (size_t i = out.links.size(); i < all.size(); i++) {
    const Attachment &a = all[i];
    struct bpf_link *link = a.name ? bpf_program__attach_tracepoint(a.prog, a.category, a.name) : bpf_program__attach(a.prog);
    if (!link) {
      *what = std::string("attach ") + bpf_program__name(a.prog) + " (" +
              (a.name ? std::string("tracepoint/") + a.category + "/" + a.name : bpf_program__section_name(a.prog)) + ")";
      return errno ? errno : EINVAL;
    }
    out.links.push_back(link);
  }
  return 0;
}

// Opens the object, sizes its maps, chooses the programs for `p.kinds` (in the variant this kernel
// takes, for the tracepoints it has), loads them (verifier included) and attaches them, on the
// calling thread. They match nothing until the session
// cgroup is written to .bss. A failed attach is not an error here: tracefs may not be mounted
// yet (CaptureEngine.start() mounts it), and the engine attaches what is left.
Loaded OpenAndLoad(const LoadParams &p) {
  LibbpfLogCapture log;
  Loaded out;
  auto failed = [&](int err, const char *what) {
    out.err = err ? err : EINVAL;
    out.what = what;
    out.log = log.Tail();
    out.Dispose();
    return out;
  };

  auto t0 = Clock::now();
  out.skel = er_shell__open();
  if (!out.skel) return failed(errno, "open BPF object");
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
    return failed(ENOENT, (std::string("find tracepoint syscalls/") + missing +
                           " (the kernel needs CONFIG_FTRACE_SYSCALLS=y)").c_str());
  }
  choose(hooks.always, true);
  choose(hooks.command, command);
  choose(hooks.disk, disk);
  choose(hooks.network, p.kinds & (1u << ER_KIND_NETWORK));
  choose(hooks.check, p.cgroup_check);
  // A hidden test hook (test/check-kernel): the exec entry program is given a program type whose
  // context it does not match, so that the kernel's verifier really refuses the object.
  const char *reject = getenv("ER_SHELL_TEST_BPF_REJECT");
  if (reject && *reject == '1') {
    bpf_program__set_type(skel->progs.on_exec_enter, BPF_PROG_TYPE_SOCKET_FILTER);
    bpf_program__set_type(skel->progs.on_exec_enter_noloop, BPF_PROG_TYPE_SOCKET_FILTER);
  }
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

// A load running on a quiet thread (quiet_thread.h), detached: whoever wants the result waits for
// it on the condition variable. Shared by that thread and the waiter, so either may finish first.
class PendingLoad {
 public:
  static std::shared_ptr<PendingLoad> Start(const LoadParams &params) {
    auto self = std::make_shared<PendingLoad>(params);
    StartQuietThread([self] {
      Loaded result = OpenAndLoad(self->params_);
      std::lock_guard<std::mutex> lock(self->mu_);
      self->result_ = std::move(result);
      self->done_ = true;
      self->cv_.notify_all();
    }).detach();
    return self;
  }

  explicit PendingLoad(const LoadParams &params) : params_(params) {}

  const LoadParams &params() const { return params_; }

  // Waits for the load and takes its result (once).
  Loaded Take() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return done_; });
    Loaded out = std::move(result_);
    result_ = Loaded();
    return out;
  }

  // Waits for the load and destroys what it loaded: when this returns, nothing of it is attached
  // and we hold none of its programs or maps.
  void Discard() {
    Loaded unwanted = Take();
    unwanted.Dispose();
  }

 private:
  const LoadParams params_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  Loaded result_;
};

// The load preload() started, until an engine takes it. Allocated once and never freed: a load
// still running when the process exits must not meet destroyed globals.
std::mutex &PreloadMutex() {
  static auto *mu = new std::mutex();
  return *mu;
}
std::shared_ptr<PendingLoad> &PreloadSlot() {
  static auto *slot = new std::shared_ptr<PendingLoad>();
  return *slot;
}

// Takes the preloaded load out of its slot (nullptr when there is none).
std::shared_ptr<PendingLoad> TakePreload() {
  std::lock_guard<std::mutex> lock(PreloadMutex());
  std::shared_ptr<PendingLoad> pending = std::move(PreloadSlot());
  PreloadSlot().reset();
  return pending;
}

// discardPreload(): discards a preload no engine took (record exits before starting one): its
// links would otherwise make the exit wait for the kernel to detach them.
Napi::Value DiscardPreload(const Napi::CallbackInfo &info) {
  std::shared_ptr<PendingLoad> pending = TakePreload();
  if (pending) pending->Discard();
  return info.Env().Undefined();
}

// preload(options): starts loading the BPF object for these kinds and ring sizes now, on a quiet
// thread; the next engine started with the same ones adopts it instead of loading its own.
Napi::Value Preload(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "preload(options)");
  LoadParams params = LoadParamsFrom(env, info[0].As<Napi::Object>());
  std::shared_ptr<PendingLoad> earlier = TakePreload();
  std::shared_ptr<PendingLoad> pending = PendingLoad::Start(params);
  if (earlier) earlier->Discard();
  std::lock_guard<std::mutex> lock(PreloadMutex());
  PreloadSlot() = std::move(pending);
  return env.Undefined();
}

class Engine : public Napi::ObjectWrap<Engine> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Engine",
                       {InstanceMethod<&Engine::Start>("start"), InstanceMethod<&Engine::Begin>("begin"),
                        InstanceMethod<&Engine::GetLost>("lost"),
                        InstanceMethod<&Engine::Pause>("pause"), InstanceMethod<&Engine::Resume>("resume"),
                        InstanceMethod<&Engine::Stop>("stop")});
  }

  explicit Engine(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Engine>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsObject() || !info[1].IsFunction() || !info[2].IsFunction())
      throw Napi::TypeError::New(env, "Engine(options, onBatch, onError)");
    Napi::Object o = info[0].As<Napi::Object>();
    bool lossless = false;
    cgroup_id_ = o.Get("sessionCgroupId").As<Napi::BigInt>().Uint64Value(&lossless);
    level_ = o.Get("sessionLevel").As<Napi::Number>().Uint32Value();
    params_ = LoadParamsFrom(env, o);
    Napi::Value batch = o.Get("batchMs");
    if (batch.IsNumber()) batch_ms_ = batch.As<Napi::Number>().Int32Value();
    if (batch_ms_ < 1 || batch_ms_ > 1000) throw Napi::RangeError::New(env, "batchMs must be 1..1000");
    Napi::Value check = o.Get("cgroupCheck");
    if (check.IsObject()) {
      Napi::Object c = check.As<Napi::Object>();
      check_dir_ = c.Get("cgroupDir").As<Napi::String>().Utf8Value();
      check_helper_ = c.Get("joinHelper").As<Napi::String>().Utf8Value();
      check_program_ = c.Get("program").As<Napi::String>().Utf8Value();
    }
    on_batch_ = Napi::Persistent(info[1].As<Napi::Function>());
    on_error_ = Napi::Persistent(info[2].As<Napi::Function>());
  }

  ~Engine() override {
    // Only reached if JS dropped a running engine without stop(): tear down synchronously.
    if (thread_.joinable()) {
      stopping_ = true;
      Wake();
      thread_.join();
    }
    DestroyAll();
    if (wake_fd_ >= 0) close(wake_fd_);
  }

 private:
  // ------------------------------------------------------------------------------ start
  Napi::Value Start(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (skel_ || stopped_) throw Napi::Error::New(env, "engine already started");
    std::string what;
    LibbpfLogCapture log;
    auto fail = [&](int err, const std::string &what) -> Napi::Error {
      std::string detail = log.Tail();
      DestroyAll();
      return ErrnoError(env, err, detail.empty() ? what : what + "\n" + detail);
    };

    // The preloaded object when it was made for these kinds and sizes, else a load of our own
    // (on a quiet thread too: the verifier must not see this thread's signals). A preload for
    // other ones is discarded while ours loads.
    auto tw = Clock::now();
    std::shared_ptr<PendingLoad> pending = TakePreload();
    bool preloaded = pending && pending->params() == params_;
    if (!preloaded) {
      std::shared_ptr<PendingLoad> unwanted = std::move(pending);
      pending = PendingLoad::Start(params_);
      if (unwanted) unwanted->Discard();
    }
    Loaded loaded = pending->Take();
    double wait_ms = MsSince(tw);
    if (loaded.err) {
      // The first line says what failed and why (the verifier's or libbpf's own words), the rest is
      // libbpf's log.
      throw LoadError(env, loaded.err, loaded.what, loaded.log);
    }
    skel_ = loaded.skel;
    ncpu_ = loaded.ncpu;
    int err = 0;

    // What the loading thread could not attach (tracefs was not mounted yet, say).
    auto t2 = Clock::now();
    size_t preattached = loaded.links.size();
    err = AttachRemaining(loaded, &what);
    links_ = std::move(loaded.links);
    loaded.links.clear();
    if (err) throw fail(err, what);
    double attach_ms = loaded.attach_ms + MsSince(t2);

    // The cgroup id check runs while the caller goes on; begin() waits for it. The session's
    // programs match nothing until then, so the check's own exec is not recorded.
    if (!check_helper_.empty()) {
      check_started_ = Clock::now();
      skel_->bss->check_parent = static_cast<uint32_t>(getpid());
      if ((err = SpawnHelper({check_helper_, check_dir_, check_program_}, &check_, &what))) {
        skel_->bss->check_parent = 0;
        throw fail(err, what);
      }
    }

    Napi::Object t = Napi::Object::New(env);
    t.Set("preloaded", preloaded);
    t.Set("preattached", static_cast<double>(preattached));
    t.Set("waitMs", wait_ms);
    t.Set("openMs", loaded.open_ms);
    t.Set("loadMs", loaded.load_ms);
    t.Set("attachMs", attach_ms);
    t.Set("links", static_cast<double>(links_.size()));
    t.Set("bpfLoop", loaded.features.bpf_loop);
    t.Set("ancestorHelper", loaded.features.ancestor_helper);
    return t;
  }

  // begin([lines]): finishes the cgroup id check, gives the programs the session cgroup and starts
  // polling; with `lines` ({commandHead, diskHead, networkHead, common, wallOffsetMs}) every exec,
  // open and connect record is followed by its audit event line (lines.h). Returns {checkMs}: how
  // long the check took from its start (0 without one).
  Napi::Value Begin(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!skel_ || begun_) throw Napi::Error::New(env, "engine not started, or begun already");
    if (info.Length() > 0 && info[0].IsObject()) {
      Napi::Object o = info[0].As<Napi::Object>();
      LineFormatter::Config c;
      c.command_head = o.Get("commandHead").As<Napi::String>().Utf8Value();
      c.disk_head = o.Get("diskHead").As<Napi::String>().Utf8Value();
      c.network_head = o.Get("networkHead").As<Napi::String>().Utf8Value();
      c.common = o.Get("common").As<Napi::String>().Utf8Value();
      c.wall_offset_ms = o.Get("wallOffsetMs").As<Napi::Number>().DoubleValue();
      lines_ = std::make_unique<LineFormatter>(std::move(c));
    }
    begun_ = true;
    LibbpfLogCapture log;
    auto fail = [&](int err, const std::string &what) -> Napi::Error {
      std::string detail = log.Tail();
      DestroyAll();
      return ErrnoError(env, err, detail.empty() ? what : what + "\n" + detail);
    };
    bool disk = params_.kinds & (1u << ER_KIND_DISK);
    bool network = params_.kinds & (1u << ER_KIND_NETWORK);
    int err = 0;

    double check_ms = 0;
    if (check_.pid > 0) {
      CheckCgroupId(env, log);
      check_ms = MsSince(check_started_);
    }
    // The level first, the id last (an id of 0 means no session): a program never sees the id
    // with a stale level.
    skel_->bss->session_level = level_;
    __atomic_store_n(&skel_->bss->session_cgid, cgroup_id_, __ATOMIC_RELEASE);

    rb_ = ring_buffer__new(bpf_map__fd(skel_->maps.rb_command), OnRecord, this, nullptr);
    if (!rb_) throw fail(errno ? errno : EINVAL, "create ring buffer manager");
    if (disk && (err = ring_buffer__add(rb_, bpf_map__fd(skel_->maps.rb_disk), OnRecord, this)))
      throw fail(-err, "add disk ring");
    if (network && (err = ring_buffer__add(rb_, bpf_map__fd(skel_->maps.rb_network), OnRecord, this)))
      throw fail(-err, "add network ring");

    wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) throw fail(errno, "eventfd");

    tsfn_ = Napi::ThreadSafeFunction::New(env, on_batch_.Value(), "er-shell-ring", 0, 1, this,
                                          [](Napi::Env env, Engine *self) { self->OnClosed(env); });
    Ref();  // stay alive until the thread-safe function is finalized
    thread_ = std::thread([this] { Run(); });

    Napi::Object t = Napi::Object::New(env);
    t.Set("checkMs", check_ms);
    return t;
  }

  // Teleport #3212: on some hosts the cgroup id BPF saw differed from the one user space computed,
  // and nothing was recorded. start() ran `helper dir program` (it joins the session cgroup, then
  // execs) as our child; this waits for it and compares the id on_cgroup_check (attached, idle
  // unless check_parent is set) saw at that exec with ours. Throws EHELPER when the helper
  // failed, ECGROUPID when they differ.
  void CheckCgroupId(Napi::Env env, const LibbpfLogCapture &log) {
    auto fail = [&](int err, const std::string &what) -> Napi::Error {
      std::string detail = log.Tail();
      DestroyAll();
      return ErrnoError(env, err, detail.empty() ? what : what + "\n" + detail);
    };
    HelperRun run = check_;
    check_ = HelperRun();
    std::string what;
    int err = WaitHelper(&run, &what);
    skel_->bss->check_parent = 0;  // from here on the program returns at once
    if (err) throw fail(err, what);
    if (!WIFEXITED(run.status) || WEXITSTATUS(run.status) != 0) {
      Napi::Error e = HelperFailed(env, check_helper_, run);
      DestroyAll();
      throw e;
    }
    __u32 key = static_cast<__u32>(run.pid);
    __u64 seen = 0;
    if (bpf_map__lookup_elem(skel_->maps.check_seen, &key, sizeof(key), &seen, sizeof(seen), 0) != 0)
      throw fail(ENOENT, "the execve tracepoint did not see pid " + std::to_string(run.pid) + " exec");
    if (seen != cgroup_id_) {
      DestroyAll();
      Napi::Error e = Napi::Error::New(env, "the cgroup id BPF sees (" + std::to_string(seen) +
                                                ") differs from the one user space computed (" +
                                                std::to_string(cgroup_id_) + ")");
      e.Set("code", Napi::String::New(env, "ECGROUPID"));
      e.Set("bpf", Napi::BigInt::New(env, static_cast<uint64_t>(seen)));
      e.Set("inode", Napi::BigInt::New(env, static_cast<uint64_t>(cgroup_id_)));
      throw e;
    }
  }

  // ------------------------------------------------------------------------ poll thread
  static int OnRecord(void *ctx, void *data, size_t size) {
    auto *self = static_cast<Engine *>(ctx);
    auto *bytes = static_cast<uint8_t *>(data);
    self->batch_.insert(self->batch_.end(), bytes, bytes + size);
    if (self->lines_) self->lines_->Append(bytes, size, &self->batch_);
    return 0;
  }

  // Waits up to `timeout_ms` for a ring to wake us (unless `rings` is false) or for Wake().
  // Returns 0, or a negative errno.
  int WaitTick(bool rings, int timeout_ms) {
    struct pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {ring_buffer__epoll_fd(rb_), POLLIN, 0}};
    int n = poll(fds, rings ? 2 : 1, timeout_ms);
    return n < 0 && errno != EINTR ? -errno : 0;
  }

  // Ends the poll thread's current wait at once (stop() must not wait for the batch tick).
  void Wake() {
    uint64_t one = 1;
    if (wake_fd_ >= 0) (void)!write(wake_fd_, &one, sizeof(one));
  }

  // The rings are drained whenever the kernel wakes us (a ring a quarter full) and at least every
  // batch_ms_; what was read goes to JS batch_ms_ after its first record (or at once past
  // kDeliverBytes). A JS batch costs ~0.2 ms of CPU whatever its size (the thread-safe call, the
  // decode loop, timers and zlib/fs round trips that follow): the small command ring wakes us
  // every ~20 ms in an exec storm, and handing each of those reads to JS on its own cost ~25 %
  // more of er-shell's CPU than batching them per batch_ms_.
  void Run() {
    Clock::time_point first{};  // when batch_ got its first record
    while (!stopping_.load()) {
      // Backpressure: while JS is behind by more than kMaxQueuedBytes, leave the records in the
      // kernel rings. If they fill, the kernel drops and counts: memory stays bounded and no
      // loss is silent.
      if (paused_.load() || queued_bytes_.load() > kMaxQueuedBytes) {
        WaitTick(false, batch_ms_);
        continue;
      }
      int timeout = batch_ms_;
      if (!batch_.empty()) timeout = std::max(0, batch_ms_ - static_cast<int>(MsSince(first)));
      // Without a wake-up the wait reports nothing: consume every ring explicitly.
      int n = WaitTick(true, timeout);
      bool was_empty = batch_.empty();
      if (n == 0) n = ring_buffer__consume(rb_);
      if (n < 0 && n != -EINTR) {
        Deliver(new Batch{{}, -n});
        break;
      }
      if (was_empty && !batch_.empty()) first = Clock::now();
      if (!batch_.empty() && (batch_.size() >= kDeliverBytes || MsSince(first) >= batch_ms_)) Flush();
    }
    // Drain what the kernel produced before stop().
    if (!paused_.load()) ring_buffer__consume(rb_);
    Flush();
  }

  void Flush() {
    if (batch_.empty()) return;
    queued_bytes_ += batch_.size();
    auto *b = new Batch{std::move(batch_), 0};
    batch_ = std::vector<uint8_t>();
    batch_.reserve(64 * 1024);
    Deliver(b);
  }

  void Deliver(Batch *b) {
    napi_status st = tsfn_.BlockingCall(b, [this](Napi::Env env, Napi::Function fn, Batch *batch) {
      if (batch->error) {
        int e = batch->error;
        delete batch;
        on_error_.Value().Call({ErrnoError(env, e, "poll BPF ring buffers").Value()});
        return;
      }
      auto *vec = new std::vector<uint8_t>(std::move(batch->bytes));
      delete batch;
      queued_bytes_ -= vec->size();
      auto buf = Napi::Buffer<uint8_t>::New(env, vec->data(), vec->size(),
                                            [](Napi::Env, uint8_t *, std::vector<uint8_t> *v) { delete v; }, vec);
      fn.Call({buf});
    });
    if (st != napi_ok) {
      queued_bytes_ -= b->bytes.size();
      delete b;
    }
  }

  // ------------------------------------------------------------------------------ lost
  Lost ReadLost() const {
    Lost out;
    if (!skel_) return out;
    std::vector<uint64_t> values(ncpu_);
    int fd = bpf_map__fd(skel_->maps.lost);
    for (uint32_t k = 0; k < ER_NKINDS; k++) {
      if (bpf_map_lookup_elem(fd, &k, values.data()) != 0) continue;
      for (uint64_t v : values) out.v[k] += v;
    }
    return out;
  }

  static Napi::Object LostObject(Napi::Env env, const Lost &l) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("command", static_cast<double>(l.v[ER_KIND_COMMAND]));
    o.Set("disk", static_cast<double>(l.v[ER_KIND_DISK]));
    o.Set("network", static_cast<double>(l.v[ER_KIND_NETWORK]));
    o.Set("control", static_cast<double>(l.v[ER_KIND_CONTROL]));
    o.Set("tracking", static_cast<double>(l.v[ER_KIND_TRACKING]));
    o.Set("pending", static_cast<double>(l.v[ER_KIND_PENDING]));
    return o;
  }

  Napi::Value GetLost(const Napi::CallbackInfo &info) {
    return LostObject(info.Env(), skel_ ? ReadLost() : final_lost_);
  }

  Napi::Value Pause(const Napi::CallbackInfo &info) {
    paused_ = true;
    return info.Env().Undefined();
  }

  Napi::Value Resume(const Napi::CallbackInfo &info) {
    paused_ = false;
    return info.Env().Undefined();
  }

  // ------------------------------------------------------------------------------ stop
  Napi::Value Stop(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    auto deferred = Napi::Promise::Deferred::New(env);
    if (!thread_.joinable()) {
      if (stop_deferred_) return stop_deferred_->Promise();  // stop() already under way
      DestroyAll();  // started but never begun: links and the object, if any
      stopped_ = true;
      Napi::Object r = Napi::Object::New(env);
      r.Set("lost", LostObject(env, final_lost_));
      r.Set("drainMs", 0.0);
      r.Set("detachMs", 0.0);
      deferred.Resolve(r);
      return deferred.Promise();
    }
    auto t0 = Clock::now();
    paused_ = false;
    stopping_ = true;
    Wake();
    thread_.join();
    drain_ms_ = MsSince(t0);
    final_lost_ = ReadLost();

    auto t1 = Clock::now();
    DestroyAll();
    detach_ms_ = MsSince(t1);
    stopped_ = true;

    stop_deferred_.reset(new Napi::Promise::Deferred(deferred));
    tsfn_.Release();  // OnClosed runs after every queued batch has been delivered
    return deferred.Promise();
  }

  void OnClosed(Napi::Env env) {
    if (stop_deferred_) {
      Napi::Object r = Napi::Object::New(env);
      r.Set("lost", LostObject(env, final_lost_));
      r.Set("drainMs", drain_ms_);
      r.Set("detachMs", detach_ms_);
      stop_deferred_->Resolve(r);
    }
    Unref();
  }

  void DestroyAll() {
    if (check_.pid > 0) {  // a check begin() never waited for
      std::string ignored;
      WaitHelper(&check_, &ignored);
      check_ = HelperRun();
    }
    DestroyLinks(links_);
    if (rb_) ring_buffer__free(rb_);
    rb_ = nullptr;
    if (skel_) er_shell__destroy(skel_);
    skel_ = nullptr;
  }

  uint64_t cgroup_id_ = 0;
  uint32_t level_ = 0;
  LoadParams params_;
  std::string check_dir_;  // the cgroup id check: run `check_helper_ check_dir_ check_program_`
  std::string check_helper_;
  std::string check_program_;
  int batch_ms_ = 20;
  int wake_fd_ = -1;  // eventfd: written to end the poll thread's wait
  HelperRun check_;   // the cgroup id check's helper, from start() until begin() waits for it
  Clock::time_point check_started_;
  bool begun_ = false;
  int ncpu_ = 1;

  Napi::FunctionReference on_batch_;
  Napi::FunctionReference on_error_;
  Napi::ThreadSafeFunction tsfn_;
  std::unique_ptr<Napi::Promise::Deferred> stop_deferred_;

  struct er_shell *skel_ = nullptr;
  struct ring_buffer *rb_ = nullptr;
  std::vector<struct bpf_link *> links_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> paused_{false};
  static constexpr size_t kMaxQueuedBytes = 32u << 20;  // batches handed to JS, not yet taken
  static constexpr size_t kDeliverBytes = 1u << 20;     // read from the rings: hand to JS now
  std::atomic<size_t> queued_bytes_{0};
  bool stopped_ = false;
  std::vector<uint8_t> batch_;  // owned by the poll thread while it runs
  std::unique_ptr<LineFormatter> lines_;  // set before the poll thread starts, used by it only

  Lost final_lost_;
  double drain_ms_ = 0;
  double detach_ms_ = 0;
};

}  // namespace

// probe.captureObject(params): what `record` does up to the session, for check-kernel: loads the
// object with the same parameters and variant selection (on a quiet thread), attaches every program,
// then detaches and destroys it all before returning, in the foreground (check-kernel leaves nothing
// behind). Throws an Error with `code`, `log` (libbpf's) and `reason` (its meaningful lines).
Napi::Value CaptureObject(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "captureObject(params)");
  LoadParams params = LoadParamsFrom(env, info[0].As<Napi::Object>());
  Loaded loaded = PendingLoad::Start(params)->Take();
  std::string what;
  int err = loaded.err;
  std::string log = loaded.log;
  if (!err) {
    LibbpfLogCapture capture;
    auto t = Clock::now();
    err = AttachRemaining(loaded, &what);
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
  if (err) {
    throw LoadError(env, err, what, log);
  }
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

void InitEngine(Napi::Env env, Napi::Object exports) {
  exports.Set("Engine", Engine::Define(env));
  exports.Set("preload", Napi::Function::New(env, Preload, "preload"));
  exports.Set("discardPreload", Napi::Function::New(env, DiscardPreload, "discardPreload"));
  exports.Set("layout", Napi::Function::New(env, Layout, "layout"));
  // normalizePath(path) / resolvePath(base, rel): the line formatter's path.posix (tests).
  exports.Set("normalizePath", Napi::Function::New(env, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Napi::Buffer<uint8_t> p = info[0].As<Napi::Buffer<uint8_t>>();
    std::string out = NormalizeAbsolute(p.Data(), p.Length());
    return Napi::Buffer<char>::Copy(info.Env(), out.data(), out.size());
  }, "normalizePath"));
  exports.Set("resolvePath", Napi::Function::New(env, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Napi::Buffer<uint8_t> b = info[0].As<Napi::Buffer<uint8_t>>();
    Napi::Buffer<uint8_t> r = info[1].As<Napi::Buffer<uint8_t>>();
    std::string out = ResolveRelative(b.Data(), b.Length(), r.Data(), r.Length());
    return Napi::Buffer<char>::Copy(info.Env(), out.data(), out.size());
  }, "resolvePath"));
  // jsonText(buffer): the JSON string contents the line formatter writes for these bytes (tests).
  exports.Set("jsonText", Napi::Function::New(env, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Napi::Buffer<uint8_t> b = info[0].As<Napi::Buffer<uint8_t>>();
    std::string out;
    AppendJsonText(&out, b.Data(), b.Length());
    return Napi::String::New(info.Env(), out);
  }, "jsonText"));
}
