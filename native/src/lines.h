// lines.h — audit event lines for exec, open, network and migrate records, written on the poll
// thread: the one place kernel records become event lines (docs/event-schema.md).
//
// In an exec storm most of er-shell's own work per event was JavaScript's: decoding the record
// into objects, building the event body and serialising it to JSON, with the garbage all of that
// leaves. The poll thread has the record in hand already: it writes the event's JSON line here, and
// JavaScript only numbers it (`{"ei":N,` — the sequence it shares with the terminal's events) and
// hands it to the files, and parses it only to show it (live lines). Recorded wire batches and
// their golden lines (test/engine/fixtures/wire/) check it without a kernel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

class LineFormatter {
 public:
  struct Config {
    // `"event":"session.command","code":"T4000I",` and the same for session.disk, session.network
    // and session.cgroup_escape.
    std::string command_head;
    std::string disk_head;
    std::string network_head;
    std::string escape_head;
    std::string exit_head;
    // The session's common fields as JSON members: `"cluster_name":…,"user":…`.
    std::string common;
    // Wall-clock ms minus CLOCK_MONOTONIC ms, as the decoder has it.
    double wall_offset_ms = 0;
    // The session cgroup: its id, and its path below the cgroup2 root (e.g. /teleport/<sid>). A
    // move there or below it is no escape and gets no line.
    uint64_t session_cgroup_id = 0;
    std::string session_cgroup_rel;
  };

  enum Result { kLine, kNoLine, kMalformed };

  explicit LineFormatter(Config config);

  // For an exec, open, connect or migrate record, appends a record of type ER_REC_LINE + its type
  // holding the event's line after `{"ei":N,` (ending in "}\n"): kLine. A move inside the session
  // cgroup: nothing, kNoLine. A record of another type, or whose lengths do not add up: nothing,
  // kMalformed (the caller counts it as lost).
  Result Append(const uint8_t *rec, size_t size, std::vector<uint8_t> *out);

 private:
  void Exec(const uint8_t *rec);
  void Open(const uint8_t *rec);
  void Network(const uint8_t *rec);
  bool Migrate(const uint8_t *rec);
  void Exit(const uint8_t *rec);
  void Head(const std::string &head, const uint8_t *rec);
  void Task(const uint8_t *task);
  void Uuid();
  void Time(uint64_t ktime_ns);
  void String(const uint8_t *s, size_t n);
  void Number(int64_t v);
  void Unsigned(uint64_t v);

  Config config_;
  std::string line_;
  // pid -> the uid of the session.command line of its last successful exec, until it exits.
  std::unordered_map<uint32_t, std::string> last_exec_;
  // Random bytes for uids, read from the kernel's CSPRNG a page at a time.
  uint8_t random_[4096];
  size_t random_left_ = 0;
  // The event time's "YYYY-MM-DDTHH:MM:SS." for the second it was last formatted for.
  int64_t time_second_ = INT64_MIN;
  char time_prefix_[32] = {};
};

// JSON string contents (no quotes) of `n` bytes of kernel text, as JavaScript writes them: the
// bytes decoded as UTF-8 with each maximal invalid subsequence replaced by U+FFFD (what
// Buffer.toString does), then escaped as JSON.stringify escapes. Exposed for tests.
void AppendJsonText(std::string *out, const uint8_t *s, size_t n);

// Node's path.posix.normalize(path) for an absolute path (kept trailing '/'), and
// path.posix.resolve(base, rel) for an absolute base and a relative rel, on bytes. Exposed for tests.
std::string NormalizeAbsolute(const uint8_t *s, size_t n);
std::string ResolveRelative(const uint8_t *base, size_t base_n, const uint8_t *rel, size_t rel_n);
