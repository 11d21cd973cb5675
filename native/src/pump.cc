// pump.cc — see pump.h.
#include "pump.h"

// The SHA-256 of the output: OpenSSL's, as the node binary exports it (Node's headers, no
// -lcrypto). Its plain-struct API lets a batch carry the hash state after its last byte.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "errors.h"

namespace {

constexpr size_t kReadBytes = 64 * 1024;
// A batch handed to JS is at most this big, and no more than kMaxQueued bytes are read but not
// yet taken by JS: past that the master is not read (the session's output waits, nothing is lost).
constexpr size_t kMaxBatch = 1024 * 1024;
constexpr size_t kMaxQueued = 8 * 1024 * 1024;
// A live line waits this long for the session's output to reach a line start.
constexpr int kLineWaitMs = 1000;

double WallMs() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

double MonoMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// What the thread hands to JS: output (time of its first byte), or the end (with an errno when
// reading the terminal failed). With hashOutput, the SHA-256 state after the batch's last byte.
struct Delivery {
  std::vector<char> bytes;
  double time_ms = 0;
  bool end = false;
  int error = 0;
  SHA256_CTX hashed;
  uint64_t hashed_bytes = 0;
};

class Pump : public Napi::ObjectWrap<Pump> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Pump",
                       {InstanceMethod<&Pump::Pause>("pause"), InstanceMethod<&Pump::Resume>("resume"),
                        InstanceMethod<&Pump::Line>("line"), InstanceMethod<&Pump::Finish>("finish"),
                        InstanceMethod<&Pump::Stop>("stop"), InstanceMethod<&Pump::OutputDigest>("outputDigest")});
  }

  explicit Pump(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Pump>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsObject() || !info[1].IsFunction() || !info[2].IsFunction())
      throw Napi::TypeError::New(env, "Pump({masterFd, outFd, lineFd}, onOutput, onEnd)");
    Napi::Object o = info[0].As<Napi::Object>();
    master_ = o.Get("masterFd").As<Napi::Number>().Int32Value();
    out_ = o.Get("outFd").As<Napi::Number>().Int32Value();
    Napi::Value line = o.Get("lineFd");
    line_fd_ = line.IsNumber() ? line.As<Napi::Number>().Int32Value() : -1;
    hash_ = o.Get("hashOutput").ToBoolean().Value();
    SHA256_Init(&hash_ctx_);
    delivered_ctx_ = hash_ctx_;
    on_end_ = Napi::Persistent(info[2].As<Napi::Function>());
    wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) throw ErrnoError(env, errno, "eventfd");
    tsfn_ = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "er-shell-pty", 0, 1, this,
                                          [](Napi::Env, Pump *self) { self->Unref(); });
    Ref();  // alive until the thread-safe function is finalized
    thread_ = std::thread([this] { Run(); });
  }

  ~Pump() override {
    if (thread_.joinable()) {
      stopping_ = true;
      Wake();
      thread_.join();
    }
    if (wake_fd_ >= 0) close(wake_fd_);
  }

 private:
  // pause()/resume(): the recording is behind / has caught up. While paused the master is not
  // read, so the session's output waits in the terminal.
  Napi::Value Pause(const Napi::CallbackInfo &info) {
    paused_ = true;
    return info.Env().Undefined();
  }

  Napi::Value Resume(const Napi::CallbackInfo &info) {
    paused_ = false;
    Wake();
    return info.Env().Undefined();
  }

  // line(text): writes text + "\r\n" to lineFd where the screen is at the start of a line, so it
  // never splits a line of the session's output; after a second of waiting, on a fresh line.
  Napi::Value Line(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "line(text)");
    {
      std::lock_guard<std::mutex> lock(lines_mu_);
      if (lines_.empty()) lines_since_ = MonoMs();
      lines_ += info[0].As<Napi::String>().Utf8Value();
      lines_ += "\r\n";
    }
    Wake();
    return env.Undefined();
  }

  // finish(): the session program has exited. What is left in the terminal is read (and shown
  // and handed over), then onEnd() is called; onEnd is called when the master reports EOF too.
  Napi::Value Finish(const Napi::CallbackInfo &info) {
    finishing_ = true;
    Wake();
    return info.Env().Undefined();
  }

  // stop(): ends the thread (at once, whatever is left unread) and waits for it; live lines given
  // meanwhile are written now. Idempotent.
  Napi::Value Stop(const Napi::CallbackInfo &info) {
    if (thread_.joinable()) {
      stopping_ = true;
      Wake();
      thread_.join();
    }
    ForceLines();
    return info.Env().Undefined();
  }

  // outputDigest(): {bytes, sha256, hashMs} of every byte handed to onOutput so far (hashOutput);
  // hashMs is the time the thread spent hashing. JS thread only, as the state it reads.
  Napi::Value OutputDigest(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!hash_) throw Napi::Error::New(env, "outputDigest(): the pump was made without hashOutput");
    SHA256_CTX ctx = delivered_ctx_;
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256_Final(md, &ctx);
    static const char kHex[] = "0123456789abcdef";
    char hex[2 * SHA256_DIGEST_LENGTH];
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
      hex[2 * i] = kHex[md[i] >> 4];
      hex[2 * i + 1] = kHex[md[i] & 15];
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("bytes", Napi::Number::New(env, static_cast<double>(delivered_bytes_)));
    out.Set("sha256", Napi::String::New(env, hex, sizeof(hex)));
    out.Set("hashMs", Napi::Number::New(env, hash_ns_.load() / 1e6));
    return out;
  }

  // Writes whatever live lines wait, now (on a fresh line).
  void ForceLines() {
    {
      std::lock_guard<std::mutex> lock(lines_mu_);
      lines_since_ = -1e12;  // due now
    }
    ShowLines();
  }

  void Wake() {
    uint64_t one = 1;
    if (wake_fd_ >= 0) (void)!write(wake_fd_, &one, sizeof(one));
  }

  void ClearWake() {
    uint64_t n;
    (void)!read(wake_fd_, &n, sizeof(n));
  }

  // Writes all of data to fd (non-blocking or not). False when the fd failed or stop() came.
  bool WriteAll(int fd, const char *data, size_t size) {
    while (size > 0) {
      ssize_t n = write(fd, data, size);
      if (n > 0) {
        data += n;
        size -= static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) {
        struct pollfd fds[2] = {{fd, POLLOUT, 0}, {wake_fd_, POLLIN, 0}};
        if (poll(fds, 2, -1) < 0 && errno != EINTR) return false;
        if (fds[1].revents & POLLIN) {
          ClearWake();
          if (stopping_) return false;
        }
        continue;
      }
      return false;
    }
    return true;
  }

  // The screen: the session's output, and the live lines that waited for a line start.
  void Show(const char *data, size_t size) {
    if (!screen_ok_) return;
    if (!WriteAll(out_, data, size)) screen_ok_ = false;  // gone (EPIPE, EIO): the recording goes on
    at_line_start_ = data[size - 1] == '\n';
  }

  // Writes the waiting live lines if the screen is at a line start, or after kLineWaitMs. Returns
  // how long the thread may sleep before they are due (-1: none are waiting).
  int ShowLines() {
    std::string lines;
    {
      std::lock_guard<std::mutex> lock(lines_mu_);
      if (lines_.empty()) return -1;
      double waited = MonoMs() - lines_since_;
      if (!at_line_start_ && line_fd_ >= 0 && waited < kLineWaitMs) return kLineWaitMs - static_cast<int>(waited);
      lines.swap(lines_);
    }
    if (line_fd_ < 0) return -1;
    if (!at_line_start_) lines.insert(0, "\r\n");
    WriteAll(line_fd_, lines.data(), lines.size());
    at_line_start_ = true;
    return -1;
  }

  void Hand(Delivery *d) {
    inflight_++;
    napi_status st = tsfn_.NonBlockingCall(d, [this](Napi::Env env, Napi::Function fn, Delivery *d) {
      if (d->end) {
        int err = d->error;
        delete d;
        inflight_--;
        if (err)
          on_end_.Value().Call({ErrnoError(env, err, "read the session terminal").Value()});
        else
          on_end_.Value().Call({});
        return;
      }
      size_t size = d->bytes.size();
      double time_ms = d->time_ms;
      if (hash_) {
        delivered_ctx_ = d->hashed;
        delivered_bytes_ = d->hashed_bytes;
      }
      // A copy V8 accounts for: an external buffer's memory would not urge the GC, and RSS grew
      // to ~2x the bound at 200 MB/s.
      auto buf = Napi::Buffer<char>::Copy(env, d->bytes.data(), size);
      delete d;
      queued_ -= size;
      inflight_--;
      Wake();  // a batch may be waiting for this one to be taken
      fn.Call({buf, Napi::Number::New(env, time_ms)});
    });
    if (st != napi_ok) {
      if (!d->end) queued_ -= d->bytes.size();
      inflight_--;
      delete d;
    }
  }

  void Hash(const char *data, size_t size) {
    double t0 = MonoMs();
    SHA256_Update(&hash_ctx_, data, size);
    hashed_bytes_ += size;
    hash_ns_ += static_cast<uint64_t>((MonoMs() - t0) * 1e6);
  }

  void Run() {
    std::vector<char> buf(kReadBytes);
    Delivery *batch = nullptr;
    int error = 0;
    auto handBatch = [&] {
      if (batch && hash_) {
        batch->hashed = hash_ctx_;
        batch->hashed_bytes = hashed_bytes_;
      }
      if (batch) Hand(batch);
      batch = nullptr;
    };
    while (!stopping_) {
      // The batch goes to JS as soon as JS has taken the previous one: single reads when output
      // is slow (no added latency), large batches when it streams.
      if (batch && (inflight_ == 0 || batch->bytes.size() >= kMaxBatch)) handBatch();
      int line_wait = ShowLines();
      bool can_read = !paused_ && queued_ < kMaxQueued;
      if (finishing_ && can_read) {
        // Drained when nothing is readable: what a pty slave writes reaches the master's buffer
        // through a queued work item, which FIONREAD alone does not wait for, but poll(2) on a tty
        // with nothing to read runs it (tty_buffer_flush_work); then FIONREAD tells.
        struct pollfd p = {master_, POLLIN, 0};
        while (poll(&p, 1, 0) < 0 && errno == EINTR) {
        }
        int pending = 0;
        if (!(p.revents & POLLIN) && ioctl(master_, FIONREAD, &pending) == 0 && pending == 0) break;
      }
      struct pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {master_, static_cast<short>(can_read ? POLLIN : 0), 0}};
      int n = poll(fds, 2, finishing_ && can_read ? 0 : line_wait);
      if (n < 0) {
        if (errno == EINTR) continue;
        error = errno;
        break;
      }
      if (fds[0].revents & POLLIN) ClearWake();
      if (!can_read || !(fds[1].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = read(master_, buf.data(), buf.size());
      if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (got <= 0) {
        // EIO: every slave fd is closed; anything else is an error to report.
        if (got < 0 && errno != EIO) error = errno;
        break;
      }
      Show(buf.data(), static_cast<size_t>(got));
      if (!batch) {
        batch = new Delivery();
        batch->time_ms = WallMs();
        batch->bytes.reserve(kReadBytes);
      }
      batch->bytes.insert(batch->bytes.end(), buf.data(), buf.data() + got);
      queued_ += static_cast<size_t>(got);
      if (hash_) Hash(buf.data(), static_cast<size_t>(got));
    }
    handBatch();
    ForceLines();
    auto *end = new Delivery();
    end->end = true;
    end->error = error;
    Hand(end);
    tsfn_.Release();
  }

  int master_ = -1;
  int out_ = -1;
  int line_fd_ = -1;
  int wake_fd_ = -1;
  Napi::FunctionReference on_end_;
  Napi::ThreadSafeFunction tsfn_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> paused_{false};
  std::atomic<bool> finishing_{false};
  std::atomic<int> inflight_{0};
  std::atomic<size_t> queued_{0};
  // thread only
  bool screen_ok_ = true;
  bool at_line_start_ = true;
  std::mutex lines_mu_;
  std::string lines_;
  double lines_since_ = 0;
  // hashOutput: the thread's running hash, and (JS thread) the state after the last batch taken.
  bool hash_ = false;
  SHA256_CTX hash_ctx_;
  uint64_t hashed_bytes_ = 0;
  std::atomic<uint64_t> hash_ns_{0};
  SHA256_CTX delivered_ctx_;
  uint64_t delivered_bytes_ = 0;
};

}  // namespace

void InitPump(Napi::Env env, Napi::Object exports) { exports.Set("Pump", Pump::Define(env)); }
