// probe.cc — kernel capability probes for `er-shell check-kernel`: each one loads/attaches for
// real (libbpf + the probe.skel.h skeleton; whether er-shell's own programs load is
// captureObject, load.cc), returns what it measured or throws an Error with
// `code`, and destroys everything it created before returning. libbpf's own log is captured into
// the Error (`log`, and its last line in the message) instead of being printed to stderr.
#include "probe.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "clock.h"
#include "errors.h"
#include "libbpf_log.h"
#include "load.h"
#include "probe.skel.h"
#include "process.h"
#include "quiet_thread.h"

namespace {

// The first line of libbpf's log (the cause; later lines repeat the failure upward), unprefixed.
std::string FirstLine(const std::string &log) {
  size_t start = log.find_first_not_of("\n ");
  if (start == std::string::npos) return "";
  std::string line = log.substr(start, log.find('\n', start) - start);
  if (line.rfind("libbpf: ", 0) == 0) line = line.substr(8);
  return line;
}

// An ErrnoError whose message ends with libbpf's first line and whose `log` holds its tail.
Napi::Error LibbpfError(Napi::Env env, int err, const std::string &what, const LibbpfLogCapture &log) {
  std::string tail = log.Tail();
  Napi::Error e = ErrnoError(env, err, what);
  std::string first = FirstLine(log.Tail(1 << 20));
  if (!first.empty()) {
    std::string message = e.Get("message").As<Napi::String>().Utf8Value();
    e.Set("message", Napi::String::New(env, message + " [libbpf: " + first + "]"));
  }
  e.Set("log", Napi::String::New(env, tail));
  return e;
}

struct SkelDeleter {
  void operator()(struct probe *skel) const { probe__destroy(skel); }
};
using Skel = std::unique_ptr<struct probe, SkelDeleter>;

struct LinkDeleter {
  void operator()(struct bpf_link *link) const { bpf_link__destroy(link); }
};
using Link = std::unique_ptr<struct bpf_link, LinkDeleter>;

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd &) = delete;
  Fd &operator=(const Fd &) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Opens the skeleton with only `wanted` set to load, and loads it. Throws on failure.
Skel OpenAndLoadProbe(Napi::Env env, LibbpfLogCapture &log, struct bpf_program *(*pick)(struct probe *),
                      double *load_ms) {
  Clock::time_point start = Clock::now();
  Skel skel(probe__open());
  if (!skel) throw LibbpfError(env, errno ? errno : EINVAL, "open the probe BPF object", log);
  struct bpf_program *wanted = pick(skel.get());
  struct bpf_program *prog;
  bpf_object__for_each_program(prog, skel->obj) bpf_program__set_autoload(prog, prog == wanted);
  skel->rodata->parent_tgid = static_cast<__u32>(getpid());
  // On a quiet thread: a signal pending for the loading thread aborts the verifier.
  int err = 0;
  std::string said;
  RunQuietly([&] {
    LibbpfLogCapture inner;
    err = probe__load(skel.get());
    said = inner.Text();
  });
  log.Add(said);
  if (err) {
    std::string what = std::string("load BPF program ") + bpf_program__name(wanted);
    throw LibbpfError(env, -err, what, log);
  }
  *load_ms = MsSince(start);
  return skel;
}

Link Attach(Napi::Env env, const LibbpfLogCapture &log, struct bpf_program *prog, double *attach_ms) {
  Clock::time_point start = Clock::now();
  struct bpf_link *link = bpf_program__attach(prog);
  if (!link) throw LibbpfError(env, errno, std::string("attach BPF program ") + bpf_program__name(prog), log);
  *attach_ms = MsSince(start);
  return Link(link);
}

Napi::Object Timings(Napi::Env env, double load_ms, double attach_ms) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("loadMs", load_ms);
  out.Set("attachMs", attach_ms);
  return out;
}

std::string StringArg(const Napi::CallbackInfo &info, size_t i, const char *name) {
  if (info.Length() <= i || !info[i].IsString())
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

// The cgroup id user space sees: the directory's inode and its name_to_handle_at handle.
void CgroupIdOfPath(Napi::Env env, const std::string &dir, uint64_t *inode, uint64_t *handle_id) {
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) throw ErrnoError(env, errno, "stat " + dir);
  *inode = st.st_ino;
  struct {
    struct file_handle fh;
    unsigned char bytes[64];
  } h;
  h.fh.handle_bytes = sizeof(h.bytes);
  int mount_id;
  if (name_to_handle_at(AT_FDCWD, dir.c_str(), &h.fh, &mount_id, 0) != 0)
    throw ErrnoError(env, errno, "name_to_handle_at " + dir);
  if (h.fh.handle_bytes < sizeof(uint64_t))
    throw ErrnoError(env, EINVAL, "name_to_handle_at " + dir + ": handle shorter than 8 bytes");
  std::memcpy(handle_id, h.fh.f_handle, sizeof(uint64_t));
}

// bpf() works with the current privileges: create (and close) a one-entry array map.
Napi::Value BpfSyscall(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  LibbpfLogCapture log;
  Fd fd(bpf_map_create(BPF_MAP_TYPE_ARRAY, "er_check", sizeof(__u32), sizeof(__u64), 1, nullptr));
  if (fd.get() < 0) throw LibbpfError(env, -fd.get(), "bpf(BPF_MAP_CREATE)", log);
  return env.Undefined();
}

// A BPF ring buffer of `bytes` (default one page) can be created and mapped by user space.
Napi::Value RingBuffer(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  uint32_t bytes = static_cast<uint32_t>(sysconf(_SC_PAGESIZE));
  if (info.Length() > 0 && info[0].IsNumber()) bytes = info[0].As<Napi::Number>().Uint32Value();
  LibbpfLogCapture log;
  Fd fd(bpf_map_create(BPF_MAP_TYPE_RINGBUF, "er_check_rb", 0, 0, bytes, nullptr));
  if (fd.get() < 0) throw LibbpfError(env, -fd.get(), "create a BPF ring buffer", log);
  struct ring_buffer *rb = ring_buffer__new(
      fd.get(), [](void *, void *, size_t) { return 0; }, nullptr, nullptr);
  if (!rb) throw LibbpfError(env, errno, "map the BPF ring buffer", log);
  ring_buffer__free(rb);
  Napi::Object out = Napi::Object::New(env);
  out.Set("bytes", bytes);
  return out;
}

// The cgroup/connect4 program loads and attaches to (then detaches from) the cgroup at `dir`.
Napi::Value CgroupProgram(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string dir = StringArg(info, 0, "cgroupDir");
  LibbpfLogCapture log;
  double load_ms = 0, attach_ms = 0;
  Skel skel = OpenAndLoadProbe(
      env, log, [](struct probe *s) { return s->progs.probe_connect4; }, &load_ms);
  Fd cg(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (cg.get() < 0) throw ErrnoError(env, errno, "open cgroup " + dir);
  Clock::time_point start = Clock::now();
  Link link(bpf_program__attach_cgroup(skel->progs.probe_connect4, cg.get()));
  if (!link) throw LibbpfError(env, errno, "attach BPF program probe_connect4 to " + dir, log);
  attach_ms = MsSince(start);
  return Timings(env, load_ms, attach_ms);
}

// {inode, handle}: the cgroup id of the directory as user space computes it.
Napi::Value CgroupIdOf(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string dir = StringArg(info, 0, "cgroupDir");
  uint64_t inode = 0, handle_id = 0;
  CgroupIdOfPath(env, dir, &inode, &handle_id);
  Napi::Object out = Napi::Object::New(env);
  out.Set("inode", Napi::BigInt::New(env, inode));
  out.Set("handle", Napi::BigInt::New(env, handle_id));
  return out;
}

// Attaches the execve program, runs `joinHelper dir program` (joins the cgroup, then execs) and
// returns the cgroup id BPF saw at that exec next to the ids user space computes for `dir`.
Napi::Value CgroupId(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string dir = StringArg(info, 0, "cgroupDir");
  std::string helper = StringArg(info, 1, "joinHelper");
  std::string program = StringArg(info, 2, "program");
  uint64_t inode = 0, handle_id = 0;
  CgroupIdOfPath(env, dir, &inode, &handle_id);

  LibbpfLogCapture log;
  double load_ms = 0, attach_ms = 0;
  Skel skel = OpenAndLoadProbe(
      env, log, [](struct probe *s) { return s->progs.probe_execve; }, &load_ms);
  Link link = Attach(env, log, skel->progs.probe_execve, &attach_ms);

  HelperRun run;
  std::string what;
  if (int err = RunHelper({helper, dir, program}, &run, &what)) throw ErrnoError(env, err, what);
  if (!WIFEXITED(run.status) || WEXITSTATUS(run.status) != 0) throw HelperFailed(env, helper, run);
  pid_t pid = run.pid;

  __u32 key = static_cast<__u32>(pid);
  __u64 bpf_id = 0;
  if (bpf_map__lookup_elem(skel->maps.seen, &key, sizeof(key), &bpf_id, sizeof(bpf_id), 0) != 0)
    throw ErrnoError(env, ENOENT, "the execve tracepoint did not see pid " + std::to_string(pid) + " exec");

  // Detached here, not in the background: check-kernel promises that nothing it loaded is left
  // when it exits (record's own cgroup id check is in the engine).
  link.reset();

  Napi::Object out = Napi::Object::New(env);
  out.Set("bpf", Napi::BigInt::New(env, static_cast<uint64_t>(bpf_id)));
  out.Set("inode", Napi::BigInt::New(env, inode));
  out.Set("handle", Napi::BigInt::New(env, handle_id));
  out.Set("pid", pid);
  return out;
}

// Informational: does a kprobe, fentry or LSM program load and attach here?
Napi::Value OptionalProgram(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string kind = StringArg(info, 0, "kind");
  struct bpf_program *(*pick)(struct probe *);
  if (kind == "kprobe")
    pick = [](struct probe *s) { return s->progs.probe_kprobe; };
  else if (kind == "fentry")
    pick = [](struct probe *s) { return s->progs.probe_fentry; };
  else if (kind == "lsm")
    pick = [](struct probe *s) { return s->progs.probe_lsm; };
  else
    throw Napi::TypeError::New(env, "kind must be kprobe, fentry or lsm");
  LibbpfLogCapture log;
  double load_ms = 0, attach_ms = 0;
  Skel skel = OpenAndLoadProbe(env, log, pick, &load_ms);
  Link link = Attach(env, log, pick(skel.get()), &attach_ms);
  return Timings(env, load_ms, attach_ms);
}

// mount(fstype, target): mounts a pseudo filesystem (cgroup2, tracefs, securityfs) nosuid,nodev,noexec.
Napi::Value Mount(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string fstype = StringArg(info, 0, "fstype");
  std::string target = StringArg(info, 1, "target");
  if (mount(fstype.c_str(), target.c_str(), fstype.c_str(), MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
    throw ErrnoError(env, errno, "mount " + fstype + " on " + target);
  return env.Undefined();
}

// unmount(target): unmounts the topmost mount at target (never follows a symlink).
Napi::Value Unmount(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string target = StringArg(info, 0, "target");
  if (umount2(target.c_str(), UMOUNT_NOFOLLOW) != 0) throw ErrnoError(env, errno, "unmount " + target);
  return env.Undefined();
}

}  // namespace

void InitProbe(Napi::Env env, Napi::Object exports) {
  Napi::Object probe = Napi::Object::New(env);
  probe.Set("bpfSyscall", Napi::Function::New(env, BpfSyscall, "bpfSyscall"));
  probe.Set("ringBuffer", Napi::Function::New(env, RingBuffer, "ringBuffer"));
  probe.Set("cgroupProgram", Napi::Function::New(env, CgroupProgram, "cgroupProgram"));
  probe.Set("cgroupIdOf", Napi::Function::New(env, CgroupIdOf, "cgroupIdOf"));
  probe.Set("cgroupId", Napi::Function::New(env, CgroupId, "cgroupId"));
  probe.Set("captureObject", Napi::Function::New(env, CaptureObject, "captureObject"));
  probe.Set("optionalProgram", Napi::Function::New(env, OptionalProgram, "optionalProgram"));
  probe.Set("mount", Napi::Function::New(env, Mount, "mount"));
  probe.Set("unmount", Napi::Function::New(env, Unmount, "unmount"));
  exports.Set("probe", probe);
}
