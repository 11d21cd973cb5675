// engine.cc — see engine.h.
#include "engine.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "clock.h"
#include "er_shell.h"
#include "er_shell.skel.h"
#include "errors.h"
#include "libbpf_log.h"
#include "lines.h"
#include "load.h"
#include "preload.h"
#include "process.h"

namespace {

struct Batch {
  std::vector<uint8_t> bytes;
  int error = 0;  // when non-zero, a poll error (positive errno) instead of records
};

struct Lost {
  uint64_t v[ER_NKINDS] = {};
  // Records that reached user space but could not be made into lines (lines.h), per
  // ER_KIND_COMMAND/DISK/NETWORK.
  uint64_t malformed[3] = {};
  uint64_t disk_filtered = 0;  // not a loss: opens the session's disk filter dropped on purpose
};

// The session's network policy from JS (netRules: [{deny, family, addr, prefixLen, portLo,
// portHi}], NetRule in src/network/policy.ts; addr 4 or 16 bytes). Throws a TypeError or RangeError
// for a rule the kernel side could not apply as meant.
std::vector<er_net_rule> NetRulesFrom(Napi::Env env, Napi::Value v) {
  std::vector<er_net_rule> out;
  if (v.IsUndefined() || v.IsNull()) return out;
  if (!v.IsArray()) throw Napi::TypeError::New(env, "netRules must be an array");
  Napi::Array a = v.As<Napi::Array>();
  if (a.Length() > ER_NET_RULES_MAX)
    throw Napi::RangeError::New(env, "at most " + std::to_string(ER_NET_RULES_MAX) + " network rules");
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Object o = a.Get(i).As<Napi::Object>();
    er_net_rule r = {};
    uint32_t family = o.Get("family").As<Napi::Number>().Uint32Value();
    uint32_t prefix = o.Get("prefixLen").As<Napi::Number>().Uint32Value();
    uint32_t lo = o.Get("portLo").As<Napi::Number>().Uint32Value();
    uint32_t hi = o.Get("portHi").As<Napi::Number>().Uint32Value();
    Napi::Value addr = o.Get("addr");
    if (!addr.IsTypedArray()) throw Napi::TypeError::New(env, "netRules[].addr must be a Uint8Array");
    Napi::Uint8Array bytes = addr.As<Napi::Uint8Array>();
    size_t len = family == 4 ? 4 : 16;
    if ((family != 4 && family != 6) || bytes.ByteLength() != len || prefix > len * 8 || lo > hi || hi > 65535)
      throw Napi::RangeError::New(env, "netRules[" + std::to_string(i) + "] is not a valid rule");
    memcpy(r.addr, bytes.Data(), len);
    uint8_t mask[16] = {};
    for (uint32_t bit = 0; bit < prefix; bit++) mask[bit / 8] |= static_cast<uint8_t>(0x80 >> (bit % 8));
    memcpy(r.mask, mask, sizeof(r.mask));
    for (size_t w = 0; w < 4; w++) r.addr[w] &= r.mask[w];
    r.family = static_cast<uint8_t>(family);
    r.prefix_len = static_cast<uint8_t>(prefix);
    r.deny = o.Get("action").As<Napi::String>().Utf8Value() == "deny";
    r.port_lo = static_cast<uint16_t>(lo);
    r.port_hi = static_cast<uint16_t>(hi);
    out.push_back(r);
  }
  return out;
}

class Engine : public Napi::ObjectWrap<Engine> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Engine",
                       {InstanceMethod<&Engine::Start>("start"), InstanceMethod<&Engine::Begin>("begin"),
                        InstanceMethod<&Engine::GetLost>("lost"), InstanceMethod<&Engine::Pause>("pause"),
                        InstanceMethod<&Engine::Resume>("resume"), InstanceMethod<&Engine::Stop>("stop")});
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
    Napi::Value dir = o.Get("sessionCgroupDir");
    if (dir.IsString()) session_dir_ = dir.As<Napi::String>().Utf8Value();
    rules_ = NetRulesFrom(env, o.Get("netRules"));
    Napi::Value disk = o.Get("diskFilter");
    if (disk.IsObject()) {
      Napi::Object f = disk.As<Napi::Object>();
      Napi::Value next = f.Get("next"), accept = f.Get("accept");
      if (!next.IsTypedArray() || !accept.IsTypedArray() || next.As<Napi::Uint8Array>().ByteLength() != 256 * 256 ||
          accept.As<Napi::Uint8Array>().ByteLength() != 256)
        throw Napi::TypeError::New(env,
                                   "diskFilter must be {next: Uint8Array(65536), accept: Uint8Array(256), includes}");
      disk_dfa_.assign(next.As<Napi::Uint8Array>().Data(), next.As<Napi::Uint8Array>().Data() + 256 * 256);
      disk_dfa_.insert(disk_dfa_.end(), accept.As<Napi::Uint8Array>().Data(),
                       accept.As<Napi::Uint8Array>().Data() + 256);
      disk_includes_ = f.Get("includes").ToBoolean().Value();
    }
    if (!rules_.empty() && !params_.net_policy)
      throw Napi::TypeError::New(env, "netRules need netPolicy: true (the policy's programs must be loaded)");
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

    // The preloaded object when it was made for these kinds and sizes, else a load of our own
    // (on a quiet thread too: the verifier must not see this thread's signals). A preload for
    // other ones is discarded while ours loads.
    auto tw = Clock::now();
    std::unique_ptr<PendingLoad> pending = TakePreload(env);
    bool preloaded = pending && pending->params() == params_;
    if (!preloaded) {
      std::unique_ptr<PendingLoad> unwanted = std::move(pending);
      pending = std::make_unique<PendingLoad>(params_);
      unwanted.reset();  // waits for it, then releases it
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
    if (err) throw Fail(env, err, what, log);
    double attach_ms = loaded.attach_ms + MsSince(t2);

    // The cgroup id check runs while the caller goes on; begin() waits for it. The session's
    // programs match nothing until then, so the check's own exec is not recorded.
    if (!check_helper_.empty()) {
      check_started_ = Clock::now();
      skel_->bss->check_parent = static_cast<uint32_t>(getpid());
      if ((err = SpawnHelper({check_helper_, check_dir_, check_program_}, &check_, &what))) {
        skel_->bss->check_parent = 0;
        throw Fail(env, err, what, log);
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
  // polling; with `lines` ({commandHead, diskHead, networkHead, escapeHead, common,
  // sessionCgroupRel, wallOffsetMs}) every record becomes its audit event line (lines.h) and
  // only the lines are delivered; without, the records themselves. Returns {checkMs}: how long
  // the check took from its start (0 without one).
  Napi::Value Begin(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!skel_ || begun_) throw Napi::Error::New(env, "engine not started, or begun already");
    if (info.Length() > 0 && info[0].IsObject()) {
      LineFormatter::Config c = LineConfigFrom(info[0].As<Napi::Object>());
      c.session_cgroup_id = cgroup_id_;
      lines_ = std::make_unique<LineFormatter>(std::move(c));
    }
    begun_ = true;
    LibbpfLogCapture log;
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
    // The policy before the programs that apply it are attached.
    uint32_t allow = 0;
    for (size_t i = 0; i < rules_.size(); i++) {
      skel_->bss->net_rules[i] = rules_[i];
      allow += !rules_[i].deny;
    }
    skel_->bss->net_allow_rules = allow;
    skel_->bss->net_rule_count = static_cast<uint32_t>(rules_.size());
    // The disk filter's DFA (src/disk/filter.ts), before the open programs see the session.
    if (!disk_dfa_.empty()) {
      __u32 zero = 0;
      if (bpf_map__update_elem(skel_->maps.disk_dfa, &zero, sizeof(zero), disk_dfa_.data(), disk_dfa_.size(), 0) != 0)
        throw Fail(env, errno, "write the disk filter", log);
      skel_->bss->disk_includes = disk_includes_;
      skel_->bss->disk_filter_on = 1;
    }
    __atomic_store_n(&skel_->bss->session_cgid, cgroup_id_, __ATOMIC_RELEASE);

    // The cgroup programs (UDP and DNS capture, the policy) on the session cgroup.
    if (!session_dir_.empty() && (network || params_.net_policy)) {
      int fd = open(session_dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd < 0) throw Fail(env, errno, "open session cgroup " + session_dir_, log);
      std::string what;
      err = AttachCgroupPrograms(skel_, fd, &cgroup_links_, &what);
      close(fd);
      if (err) throw Fail(env, err, what, log);
    } else if (params_.net_policy) {
      throw Fail(env, EINVAL, "a network policy needs sessionCgroupDir", log);
    }

    rb_ = ring_buffer__new(bpf_map__fd(skel_->maps.rb_command), OnRecord, this, nullptr);
    if (!rb_) throw Fail(env, errno ? errno : EINVAL, "create ring buffer manager", log);
    if (disk && (err = ring_buffer__add(rb_, bpf_map__fd(skel_->maps.rb_disk), OnRecord, this)))
      throw Fail(env, -err, "add disk ring", log);
    if (network && (err = ring_buffer__add(rb_, bpf_map__fd(skel_->maps.rb_network), OnRecord, this)))
      throw Fail(env, -err, "add network ring", log);

    wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) throw Fail(env, errno, "eventfd", log);

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
    HelperRun run = check_;
    check_ = HelperRun();
    std::string what;
    int err = WaitHelper(&run, &what);
    skel_->bss->check_parent = 0;  // from here on the program returns at once
    if (err) throw Fail(env, err, what, log);
    if (!WIFEXITED(run.status) || WEXITSTATUS(run.status) != 0) {
      Napi::Error e = HelperFailed(env, check_helper_, run);
      DestroyAll();
      throw e;
    }
    __u32 key = static_cast<__u32>(run.pid);
    __u64 seen = 0;
    if (bpf_map__lookup_elem(skel_->maps.check_seen, &key, sizeof(key), &seen, sizeof(seen), 0) != 0)
      throw Fail(env, ENOENT, "the execve tracepoint did not see pid " + std::to_string(run.pid) + " exec", log);
    if (seen != cgroup_id_) {
      DestroyAll();
      Napi::Error e =
          Napi::Error::New(env, "the cgroup id BPF sees (" + std::to_string(seen) +
                                    ") differs from the one user space computed (" + std::to_string(cgroup_id_) + ")");
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
    if (!self->lines_) {
      // Without a line format (tests, test/engine/fixtures/wire/record.ts): the records themselves.
      self->batch_.insert(self->batch_.end(), bytes, bytes + size);
      return 0;
    }
    if (self->lines_->Append(bytes, size, &self->batch_) == LineFormatter::kMalformed) {
      uint32_t type = size >= sizeof(er_hdr) ? *reinterpret_cast<const uint32_t *>(bytes) : 0;
      int kind = type == ER_REC_OPEN ? ER_KIND_DISK : type == ER_REC_NET ? ER_KIND_NETWORK : ER_KIND_COMMAND;
      self->malformed_[kind]++;
    }
    return 0;
  }

  // Waits up to `timeout_ms` for a ring to wake us (unless `rings` is false) or for Wake().
  // Returns 0, or a negative errno.
  int WaitTick(bool rings, int timeout_ms) {
    struct pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {ring_buffer__epoll_fd(rb_), POLLIN, 0}};
    int n = poll(fds, rings ? 2 : 1, timeout_ms);
    if (n < 0) return errno != EINTR ? -errno : 0;
    uint64_t count;
    if (fds[0].revents & POLLIN) (void)!read(wake_fd_, &count, sizeof(count));  // taken: the next wait waits
    return 0;
  }

  // Ends the poll thread's current wait at once (stop() must not wait for the batch tick, nor a
  // resume(): the rings fill meanwhile).
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
    // Drain what the kernel produced before stop(), then the folded sends no record holds yet
    // (stop() detached the cgroup programs first: nothing adds to them any more).
    if (!paused_.load()) ring_buffer__consume(rb_);
    FlushFolds();
    Flush();
  }

  // The sends folded since each destination's last record (on_egress in er_shell.bpf.c): one more
  // record per destination with any, made from its last one, at the time of its latest send.
  void FlushFolds() {
    if (!skel_ || !bpf_program__autoload(skel_->progs.on_egress)) return;
    int fd = bpf_map__fd(skel_->maps.folds);
    size_t key_size = bpf_map__key_size(skel_->maps.folds);
    size_t value_size = bpf_map__value_size(skel_->maps.folds);
    std::vector<uint8_t> key(key_size), next(key_size), value(value_size);
    const size_t kSlot = 3 * sizeof(uint64_t);  // struct fold: window_ns, pending, last_ns, slot
    bool first = true;
    while (bpf_map_get_next_key(fd, first ? nullptr : key.data(), next.data()) == 0) {
      first = false;
      key = next;
      if (bpf_map_lookup_elem(fd, key.data(), value.data()) != 0) continue;
      uint64_t pending, last_ns;
      memcpy(&pending, value.data() + sizeof(uint64_t), sizeof(pending));
      memcpy(&last_ns, value.data() + 2 * sizeof(uint64_t), sizeof(last_ns));
      if (pending == 0 || value_size < kSlot + sizeof(er_net)) continue;
      uint8_t *rec = value.data() + kSlot;
      er_net n;
      memcpy(&n, rec, sizeof(n));
      if (n.hdr.type != ER_REC_NET || n.dns_len > ER_DNS_MAX || kSlot + sizeof(er_net) + n.dns_len > value_size)
        continue;
      n.sends = static_cast<uint32_t>(std::min<uint64_t>(pending, UINT32_MAX));
      n.hdr.ktime_ns = last_ns;
      memcpy(rec, &n, sizeof(n));
      OnRecord(this, rec, sizeof(er_net) + n.dns_len);
    }
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
      auto buf = Napi::Buffer<uint8_t>::New(
          env, vec->data(), vec->size(), [](Napi::Env, uint8_t *, std::vector<uint8_t> *v) { delete v; }, vec);
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
    for (int k = 0; k < 3; k++) out.malformed[k] = malformed_[k].load();
    if (!skel_) return out;
    std::vector<uint64_t> values(ncpu_);
    int fd = bpf_map__fd(skel_->maps.lost);
    for (uint32_t k = 0; k < ER_NKINDS; k++) {
      if (bpf_map_lookup_elem(fd, &k, values.data()) != 0) continue;
      for (uint64_t v : values) out.v[k] += v;
    }
    uint32_t zero = 0;
    if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.disk_filtered), &zero, values.data()) == 0)
      for (uint64_t v : values) out.disk_filtered += v;
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
    Napi::Object m = Napi::Object::New(env);
    m.Set("command", static_cast<double>(l.malformed[ER_KIND_COMMAND]));
    m.Set("disk", static_cast<double>(l.malformed[ER_KIND_DISK]));
    m.Set("network", static_cast<double>(l.malformed[ER_KIND_NETWORK]));
    o.Set("malformed", m);
    o.Set("diskFiltered", static_cast<double>(l.disk_filtered));
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
    Wake();
    return info.Env().Undefined();
  }

  // ------------------------------------------------------------------------------ stop
  Napi::Value Stop(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    auto deferred = Napi::Promise::Deferred::New(env);
    if (!thread_.joinable()) {
      if (stop_deferred_) return stop_deferred_->Promise();  // stop() already under way
      DestroyAll();                                          // started but never begun: links and the object, if any
      stopped_ = true;
      Napi::Object r = Napi::Object::New(env);
      r.Set("lost", LostObject(env, final_lost_));
      r.Set("drainMs", 0.0);
      r.Set("detachMs", 0.0);
      deferred.Resolve(r);
      return deferred.Promise();
    }
    auto t0 = Clock::now();
    DestroyLinks(cgroup_links_);  // no sends are folded once the poll thread flushes the folds
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

  // The one failure of start() and begin(): releases everything (a failed engine holds nothing) and
  // returns the Error to throw, libbpf's log since `log` began after `what` (errors.h).
  Napi::Error Fail(Napi::Env env, int err, const std::string &what, const LibbpfLogCapture &log) {
    std::string detail = log.Tail();
    DestroyAll();
    return ErrnoError(env, err, what, detail);
  }

  void DestroyAll() {
    if (check_.pid > 0) {  // a check begin() never waited for
      std::string ignored;
      WaitHelper(&check_, &ignored);
      check_ = HelperRun();
    }
    DestroyLinks(cgroup_links_);
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
  int batch_ms_ = 50;  // batchMs; the default is the one CaptureOptions documents
  int wake_fd_ = -1;   // eventfd: written to end the poll thread's wait
  HelperRun check_;    // the cgroup id check's helper, from start() until begin() waits for it
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
  std::vector<struct bpf_link *> cgroup_links_;  // on the session cgroup (begin)
  std::string session_dir_;                      // sessionCgroupDir
  std::vector<er_net_rule> rules_;               // netRules
  std::vector<uint8_t> disk_dfa_;                // diskFilter: next then accept (struct disk_dfa)
  bool disk_includes_ = false;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> paused_{false};
  std::atomic<uint64_t> malformed_[3] = {};             // see Lost::malformed; written by the poll thread
  static constexpr size_t kMaxQueuedBytes = 32u << 20;  // batches handed to JS, not yet taken
  static constexpr size_t kDeliverBytes = 1u << 20;     // read from the rings: hand to JS now
  std::atomic<size_t> queued_bytes_{0};
  bool stopped_ = false;
  std::vector<uint8_t> batch_;            // owned by the poll thread while it runs
  std::unique_ptr<LineFormatter> lines_;  // set before the poll thread starts, used by it only

  Lost final_lost_;
  double drain_ms_ = 0;
  double detach_ms_ = 0;
};

}  // namespace

LineFormatter::Config LineConfigFrom(Napi::Object o) {
  LineFormatter::Config c;
  c.command_head = o.Get("commandHead").As<Napi::String>().Utf8Value();
  c.disk_head = o.Get("diskHead").As<Napi::String>().Utf8Value();
  c.network_head = o.Get("networkHead").As<Napi::String>().Utf8Value();
  c.escape_head = o.Get("escapeHead").As<Napi::String>().Utf8Value();
  c.exit_head = o.Get("exitHead").As<Napi::String>().Utf8Value();
  c.common = o.Get("common").As<Napi::String>().Utf8Value();
  c.session_cgroup_rel = o.Get("sessionCgroupRel").As<Napi::String>().Utf8Value();
  c.wall_offset_ms = o.Get("wallOffsetMs").As<Napi::Number>().DoubleValue();
  return c;
}

void InitEngine(Napi::Env env, Napi::Object exports) { exports.Set("Engine", Engine::Define(env)); }
