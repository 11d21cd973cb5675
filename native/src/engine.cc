// engine.cc — the capture engine: one Engine object owns the loaded BPF skeleton, its links, the
// ring-buffer poll thread and the thread-safe function that hands JS *batches* of raw records.
//
// Order: open → configure rodata and map sizes → choose programs → load → attach → poll → stop
// (drain, detach every link concurrently, destroy). Errors never abort the process: start()
// throws an Error with `code`; a poll failure reaches JS through onError.
#include "engine.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "er_shell.h"
#include "er_shell.skel.h"
#include "errors.h"
#include "layout.h"
#include "libbpf_log.h"
#include "process.h"

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

class Engine : public Napi::ObjectWrap<Engine> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Engine",
                       {InstanceMethod<&Engine::Start>("start"), InstanceMethod<&Engine::GetLost>("lost"),
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
    kinds_ = o.Get("kinds").As<Napi::Number>().Uint32Value();
    ring_bytes_[ER_KIND_COMMAND] = o.Get("commandRingBytes").As<Napi::Number>().Uint32Value();
    ring_bytes_[ER_KIND_DISK] = o.Get("diskRingBytes").As<Napi::Number>().Uint32Value();
    ring_bytes_[ER_KIND_NETWORK] = o.Get("networkRingBytes").As<Napi::Number>().Uint32Value();
    Napi::Value batch = o.Get("batchMs");
    if (batch.IsNumber()) batch_ms_ = batch.As<Napi::Number>().Int32Value();
    if (batch_ms_ < 1 || batch_ms_ > 1000) throw Napi::RangeError::New(env, "batchMs must be 1..1000");
    for (int k = ER_KIND_COMMAND; k <= ER_KIND_NETWORK; k++) {
      uint32_t b = ring_bytes_[k];
      if (b < 4096 || (b & (b - 1)) != 0)
        throw Napi::RangeError::New(env, "ring sizes must be a power of two of at least one page");
    }
    on_batch_ = Napi::Persistent(info[1].As<Napi::Function>());
    on_error_ = Napi::Persistent(info[2].As<Napi::Function>());
  }

  ~Engine() override {
    // Only reached if JS dropped a running engine without stop(): tear down synchronously.
    if (thread_.joinable()) {
      stopping_ = true;
      thread_.join();
    }
    DestroyAll();
  }

 private:
  // ------------------------------------------------------------------------------ start
  Napi::Value Start(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (skel_ || stopped_) throw Napi::Error::New(env, "engine already started");
    LibbpfLogCapture log;
    auto fail = [&](int err, const std::string &what) -> Napi::Error {
      std::string detail = log.Tail();
      DestroyAll();
      return ErrnoError(env, err, detail.empty() ? what : what + "\n" + detail);
    };

    auto t0 = Clock::now();
    skel_ = er_shell__open();
    if (!skel_) throw fail(errno ? errno : EINVAL, "open BPF object");
    skel_->rodata->session_cgid = cgroup_id_;
    skel_->rodata->session_level = level_;
    bpf_map__set_max_entries(skel_->maps.rb_command, ring_bytes_[ER_KIND_COMMAND]);
    bpf_map__set_max_entries(skel_->maps.rb_disk, ring_bytes_[ER_KIND_DISK]);
    bpf_map__set_max_entries(skel_->maps.rb_network, ring_bytes_[ER_KIND_NETWORK]);
    int ncpu = libbpf_num_possible_cpus();
    if (ncpu <= 0) throw fail(-ncpu, "count possible CPUs");
    ncpu_ = ncpu;
    bpf_map__set_max_entries(skel_->maps.scratch, ncpu);

    bool command = kinds_ & (1u << ER_KIND_COMMAND);
    bool disk = kinds_ & (1u << ER_KIND_DISK);
    bool network = kinds_ & (1u << ER_KIND_NETWORK);
    auto &p = skel_->progs;
    struct bpf_program *cmd_progs[] = {p.on_execve_enter, p.on_execve_exit, p.on_execveat_enter,
                                       p.on_execveat_exit};
    for (auto *prog : cmd_progs) bpf_program__set_autoload(prog, command);
    // open(2) and creat(2) exist on x86_64 but not on every architecture.
    bool legacy_open = access("/sys/kernel/tracing/events/syscalls/sys_enter_open", F_OK) == 0 ||
                       access("/sys/kernel/debug/tracing/events/syscalls/sys_enter_open", F_OK) == 0;
    struct bpf_program *disk_progs[] = {p.on_openat_enter, p.on_openat_exit, p.on_openat2_enter,
                                        p.on_openat2_exit};
    for (auto *prog : disk_progs) bpf_program__set_autoload(prog, disk);
    struct bpf_program *legacy_progs[] = {p.on_open_enter, p.on_open_exit, p.on_creat_enter,
                                          p.on_creat_exit};
    for (auto *prog : legacy_progs) bpf_program__set_autoload(prog, disk && legacy_open);
    bpf_program__set_autoload(p.on_sock_state, network);
    double open_ms = MsSince(t0);

    auto t1 = Clock::now();
    int err = er_shell__load(skel_);
    if (err) throw fail(-err, "load BPF programs");
    double load_ms = MsSince(t1);

    auto t2 = Clock::now();
    struct bpf_program *prog;
    bpf_object__for_each_program(prog, skel_->obj) {
      if (!bpf_program__autoload(prog)) continue;
      struct bpf_link *link = bpf_program__attach(prog);
      if (!link) {
        int e = errno ? errno : EINVAL;
        throw fail(e, std::string("attach ") + bpf_program__name(prog) + " (" +
                          bpf_program__section_name(prog) + ")");
      }
      links_.push_back(link);
    }
    double attach_ms = MsSince(t2);

    rb_ = ring_buffer__new(bpf_map__fd(skel_->maps.rb_command), OnRecord, this, nullptr);
    if (!rb_) throw fail(errno ? errno : EINVAL, "create ring buffer manager");
    if (disk && (err = ring_buffer__add(rb_, bpf_map__fd(skel_->maps.rb_disk), OnRecord, this)))
      throw fail(-err, "add disk ring");
    if (network && (err = ring_buffer__add(rb_, bpf_map__fd(skel_->maps.rb_network), OnRecord, this)))
      throw fail(-err, "add network ring");

    tsfn_ = Napi::ThreadSafeFunction::New(env, on_batch_.Value(), "er-shell-ring", 0, 1, this,
                                          [](Napi::Env env, Engine *self) { self->OnClosed(env); });
    Ref();  // stay alive until the thread-safe function is finalized
    thread_ = std::thread([this] { Run(); });

    Napi::Object t = Napi::Object::New(env);
    t.Set("openMs", open_ms);
    t.Set("loadMs", load_ms);
    t.Set("attachMs", attach_ms);
    t.Set("links", static_cast<double>(links_.size()));
    return t;
  }

  // ------------------------------------------------------------------------ poll thread
  static int OnRecord(void *ctx, void *data, size_t size) {
    auto *self = static_cast<Engine *>(ctx);
    auto *bytes = static_cast<uint8_t *>(data);
    self->batch_.insert(self->batch_.end(), bytes, bytes + size);
    return 0;
  }

  void Run() {
    while (!stopping_.load()) {
      // Backpressure: while JS is behind by more than kMaxQueuedBytes, leave the records in the
      // kernel rings. If they fill, the kernel drops and counts: memory stays bounded and no
      // loss is silent.
      if (paused_.load() || queued_bytes_.load() > kMaxQueuedBytes) {
        std::this_thread::sleep_for(std::chrono::milliseconds(batch_ms_));
        continue;
      }
      // The kernel wakes us only when a ring is a quarter full; otherwise the timeout is the
      // batch tick, and epoll reports nothing, so consume every ring explicitly.
      int n = ring_buffer__poll(rb_, batch_ms_);
      if (n >= 0 || n == -EINTR) n = ring_buffer__consume(rb_);
      if (n < 0 && n != -EINTR) {
        Deliver(new Batch{{}, -n});
        break;
      }
      Flush();
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

  // Destroying a tracepoint link waits for the kernel (~35-70 ms each on this machine, serialized
  // by the kernel). A detached grandchild holding copies of the link fds does that wait off our
  // path; our own closes are then instant. Without fork, destroy them concurrently here.
  void DestroyAll() {
    std::vector<int> fds;
    for (struct bpf_link *link : links_) fds.push_back(bpf_link__fd(link));
    bool released = !fds.empty() && ReleaseInBackground(fds);
    std::vector<std::thread> workers;
    workers.reserve(links_.size());
    for (struct bpf_link *link : links_) {
      if (released)
        bpf_link__destroy(link);
      else
        workers.emplace_back([link] { bpf_link__destroy(link); });
    }
    for (auto &w : workers) w.join();
    links_.clear();
    if (rb_) ring_buffer__free(rb_);
    rb_ = nullptr;
    if (skel_) er_shell__destroy(skel_);
    skel_ = nullptr;
  }

  uint64_t cgroup_id_ = 0;
  uint32_t level_ = 0;
  uint32_t kinds_ = 0;
  uint32_t ring_bytes_[ER_KIND_NETWORK + 1] = {};
  int batch_ms_ = 20;
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
  std::atomic<size_t> queued_bytes_{0};
  bool stopped_ = false;
  std::vector<uint8_t> batch_;  // owned by the poll thread while it runs

  Lost final_lost_;
  double drain_ms_ = 0;
  double detach_ms_ = 0;
};

}  // namespace

void InitEngine(Napi::Env env, Napi::Object exports) {
  exports.Set("Engine", Engine::Define(env));
  exports.Set("layout", Napi::Function::New(env, Layout, "layout"));
}
