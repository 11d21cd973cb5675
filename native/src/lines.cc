// lines.cc — see lines.h.
#include "lines.h"

#include <sys/random.h>

#include <charconv>
#include <cmath>
#include <csignal>
#include <cstring>
#include <ctime>

#include "er_shell.h"

namespace {

constexpr uint32_t kUnset = 0xffffffffu;
constexpr uint16_t kAfInet6 = 10;
constexpr uint8_t kIpprotoUdp = 17;

template <typename T>
T Load(const uint8_t *p) {
  T v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// Decodes UTF-8 as the WHATWG Encoding Standard does (and V8 with it): valid sequences go to
// `valid(begin, end)` in runs, each maximal invalid subsequence becomes one `bad()` (U+FFFD).
template <typename Valid, typename Bad>
void DecodeUtf8(const uint8_t *s, size_t n, Valid valid, Bad bad) {
  size_t run = 0;  // start of the pending run of valid bytes
  size_t i = 0;
  while (i < n) {
    uint8_t b = s[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    size_t need;
    uint8_t lower = 0x80, upper = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b == 0xe0) lower = 0xa0;
      if (b == 0xed) upper = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b == 0xf0) lower = 0x90;
      if (b == 0xf4) upper = 0x8f;
    } else {
      valid(s + run, s + i);
      bad();
      run = ++i;
      continue;
    }
    size_t j = i + 1;
    size_t seen = 0;
    while (seen < need && j < n && s[j] >= lower && s[j] <= upper) {
      lower = 0x80;
      upper = 0xbf;
      j++;
      seen++;
    }
    if (seen == need) {
      i = j;
      continue;
    }
    // The lead byte and the continuation bytes that fitted are one maximal subpart; the byte
    // that did not fit starts over.
    valid(s + run, s + i);
    bad();
    run = i = j;
  }
  valid(s + run, s + n);
}

size_t DecodedLength(const uint8_t *s, size_t n) {
  size_t len = 0;
  DecodeUtf8(
      s, n, [&](const uint8_t *b, const uint8_t *e) { len += e - b; }, [&] { len += 3; });
  return len;
}

size_t StrLen(const uint8_t *s, size_t max) {
  const void *z = std::memchr(s, 0, max);
  return z ? static_cast<const uint8_t *>(z) - s : max;
}

const char kHex[] = "0123456789abcdef";

// The code point of a control escaped beyond what JSON needs, at `p` in a valid UTF-8 run ending
// at `e`, with its length; 0 for anything else. DEL, C1 (U+0080-U+009F) and the bidi controls
// U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069: what src/events/escape.ts escapes, so
// that event files and the host log carry no terminal controls to whoever cats them.
uint32_t ExtraControl(const uint8_t *p, const uint8_t *e, size_t *len) {
  uint8_t c = p[0];
  if (c == 0x7f) {
    *len = 1;
    return 0x7f;
  }
  if (c == 0xc2 && e - p >= 2 && p[1] <= 0x9f) {
    *len = 2;
    return p[1];
  }
  if (c == 0xd8 && e - p >= 2 && p[1] == 0x9c) {
    *len = 2;
    return 0x61c;
  }
  if (c == 0xe2 && e - p >= 3) {
    uint32_t cp = 0x2000 | (p[1] & 0x3f) << 6 | (p[2] & 0x3f);
    if (cp == 0x200e || cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069)) {
      *len = 3;
      return cp;
    }
  }
  return 0;
}

}  // namespace

void AppendJsonText(std::string *out, const uint8_t *s, size_t n) {
  DecodeUtf8(
      s, n,
      [&](const uint8_t *b, const uint8_t *e) {
        const uint8_t *plain = b;
        for (const uint8_t *p = b; p < e; p++) {
          uint8_t c = *p;
          if (c >= 0x20 && c != '"' && c != '\\') {
            // Only these lead bytes start a character ExtraControl escapes (in a valid run they
            // are never continuation bytes).
            if (c != 0x7f && c != 0xc2 && c != 0xd8 && c != 0xe2) continue;
            size_t len = 0;
            uint32_t cp = ExtraControl(p, e, &len);
            if (cp == 0) continue;
            out->append(reinterpret_cast<const char *>(plain), p - plain);
            char u[6] = {'\\', 'u', kHex[cp >> 12], kHex[(cp >> 8) & 15], kHex[(cp >> 4) & 15], kHex[cp & 15]};
            out->append(u, sizeof(u));
            p += len - 1;
            plain = p + 1;
            continue;
          }
          out->append(reinterpret_cast<const char *>(plain), p - plain);
          plain = p + 1;
          switch (c) {
            case '"': out->append("\\\""); break;
            case '\\': out->append("\\\\"); break;
            case '\b': out->append("\\b"); break;
            case '\f': out->append("\\f"); break;
            case '\n': out->append("\\n"); break;
            case '\r': out->append("\\r"); break;
            case '\t': out->append("\\t"); break;
            default: {
              char u[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
              out->append(u, sizeof(u));
            }
          }
        }
        out->append(reinterpret_cast<const char *>(plain), e - plain);
      },
      [&] { out->append("\xef\xbf\xbd"); });
}

namespace {

// The segments of `path` ('/'-separated, empty ones and '.' dropped, '..' taking one back but
// never past the root) joined by '/': Node's normalizeString for an absolute path.
std::string Segments(const std::string &path) {
  std::string out;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    size_t len = j - i;
    if (len == 0 || (len == 1 && path[i] == '.')) {
      // nothing
    } else if (len == 2 && path[i] == '.' && path[i + 1] == '.') {
      size_t slash = out.rfind('/');
      out.erase(slash == std::string::npos ? 0 : slash);
    } else {
      if (!out.empty()) out.push_back('/');
      out.append(path, i, len);
    }
    i = j + 1;
  }
  return out;
}

}  // namespace

std::string NormalizeAbsolute(const uint8_t *s, size_t n) {
  std::string path(reinterpret_cast<const char *>(s), n);
  std::string segs = Segments(path);
  if (segs.empty()) return "/";
  if (path.back() == '/') segs.push_back('/');
  return "/" + segs;
}

std::string ResolveRelative(const uint8_t *base, size_t base_n, const uint8_t *rel, size_t rel_n) {
  std::string joined(reinterpret_cast<const char *>(base), base_n);
  joined.push_back('/');
  joined.append(reinterpret_cast<const char *>(rel), rel_n);
  return "/" + Segments(joined);
}

LineFormatter::LineFormatter(Config config) : config_(std::move(config)) { line_.reserve(4096); }

LineFormatter::Result LineFormatter::Append(const uint8_t *rec, size_t size, std::vector<uint8_t> *out) {
  if (size < sizeof(er_hdr)) return kMalformed;
  uint32_t type = Load<uint32_t>(rec + offsetof(er_hdr, type));
  line_.clear();
  if (type == ER_REC_EXEC && size >= sizeof(er_exec)) {
    uint32_t path_len = Load<uint32_t>(rec + offsetof(er_exec, path_len));
    uint32_t args_len = Load<uint32_t>(rec + offsetof(er_exec, args_len));
    uint32_t exe_len = Load<uint32_t>(rec + offsetof(er_exec, exe_len));
    if (uint64_t{sizeof(er_exec)} + path_len + args_len + exe_len > size) return kMalformed;
    Exec(rec);
  } else if (type == ER_REC_OPEN && size >= sizeof(er_open)) {
    uint32_t path_len = Load<uint32_t>(rec + offsetof(er_open, path_len));
    uint32_t res_len = Load<uint32_t>(rec + offsetof(er_open, res_len));
    if (uint64_t{sizeof(er_open)} + path_len + res_len > size) return kMalformed;
    Open(rec);
  } else if (type == ER_REC_NET && size >= sizeof(er_net)) {
    uint32_t dns_len = Load<uint32_t>(rec + offsetof(er_net, dns_len));
    if (uint64_t{sizeof(er_net)} + dns_len > size) return kMalformed;
    Network(rec);
    if (Load<uint8_t>(rec + offsetof(er_net, action)) == ER_NET_DENIED) type = ER_REC_NET_DENIED;
  } else if (type == ER_REC_EXIT && size >= sizeof(er_exit)) {
    Exit(rec);
  } else if (type == ER_REC_MIGRATE && size >= sizeof(er_migrate)) {
    uint32_t path_len = Load<uint32_t>(rec + offsetof(er_migrate, path_len));
    if (uint64_t{sizeof(er_migrate)} + path_len > size) return kMalformed;
    if (!Migrate(rec)) return kNoLine;
  } else {
    return kMalformed;
  }
  er_hdr h = {};
  h.type = ER_REC_LINE + type;
  h.size = static_cast<uint32_t>(sizeof(er_hdr) + line_.size());
  h.ktime_ns = Load<uint64_t>(rec + offsetof(er_hdr, ktime_ns));
  const auto *hb = reinterpret_cast<const uint8_t *>(&h);
  out->insert(out->end(), hb, hb + sizeof(h));
  out->insert(out->end(), line_.begin(), line_.end());
  return kLine;
}

void LineFormatter::Exec(const uint8_t *rec) {
  uint32_t flags = Load<uint32_t>(rec + offsetof(er_exec, flags));
  uint32_t path_len = Load<uint32_t>(rec + offsetof(er_exec, path_len));
  uint32_t args_len = Load<uint32_t>(rec + offsetof(er_exec, args_len));
  uint32_t exe_len = Load<uint32_t>(rec + offsetof(er_exec, exe_len));
  const uint8_t *data = rec + sizeof(er_exec);
  const uint8_t *task = rec + offsetof(er_exec, task);

  Head(config_.command_head, rec);
  Task(task);
  line_.append(",\"ppid\":");
  Unsigned(Load<uint32_t>(task + offsetof(er_task, ppid)));
  line_.append(",\"path\":");
  String(data, StrLen(data, path_len));

  // The argument block: NUL-separated strings (the last one may lack its NUL), argv[0] and
  // whatever a #! interpreter put before the caller's argv[1] skipped.
  const uint8_t *args = data + path_len;
  uint32_t skip = Load<uint32_t>(rec + offsetof(er_exec, argv_skip));
  if (skip == 0) skip = 1;
  bool truncated = flags & ER_F_ARGS_TRUNCATED;
  bool from_mm = flags & ER_F_ARGS_FROM_MM;
  line_.append(",\"argv\":[");
  uint32_t index = 0, written = 0;
  size_t start = 0;
  while (start < args_len) {
    const void *z = std::memchr(args + start, 0, args_len - start);
    size_t end = z ? static_cast<const uint8_t *>(z) - args : args_len;
    // A failed exec's arguments are read one by one, each cut at ER_ARG_MAX_FAIL - 1 bytes.
    if (!from_mm && DecodedLength(args + start, end - start) >= ER_ARG_MAX_FAIL - 1) truncated = true;
    if (index++ >= skip) {
      if (written++) line_.push_back(',');
      String(args + start, end - start);
    }
    start = end + 1;
  }
  line_.append("],\"return_code\":");
  int32_t retval = Load<int32_t>(rec + offsetof(er_exec, retval));
  Number(retval);
  // The command a later process exit belongs to (Exit).
  if (retval == 0)
    last_exec_[Load<uint32_t>(task + offsetof(er_task, pid))] = line_.substr(config_.command_head.size() + 7, 36);
  if (truncated) line_.append(",\"argv_truncated\":true");
  // A walk cut at ER_PATH_DEPTH components holds only the path's lower part: no exe then.
  if (exe_len > 0 && !(flags & ER_F_RES_TRUNCATED)) {
    const uint8_t *exe = args + args_len;
    size_t elen = StrLen(exe, exe_len);
    // A chrooted process: exe as it sees it, and the host's view beside it.
    uint32_t root = Load<uint32_t>(rec + offsetof(er_exec, exe_root));
    bool chrooted = root > 0 && root < elen && exe[root] == '/';
    line_.append(",\"exe\":");
    String(exe + (chrooted ? root : 0), elen - (chrooted ? root : 0));
    if (chrooted && !(flags & ER_F_OTHER_MNTNS)) {
      line_.append(",\"host_exe\":");
      String(exe, elen);
    }
  }
  line_.append("}\n");
}

void LineFormatter::Open(const uint8_t *rec) {
  uint32_t flags2 = Load<uint32_t>(rec + offsetof(er_open, flags2));
  uint32_t path_len = Load<uint32_t>(rec + offsetof(er_open, path_len));
  uint32_t res_len = Load<uint32_t>(rec + offsetof(er_open, res_len));
  uint32_t res_kind = Load<uint32_t>(rec + offsetof(er_open, res_kind));
  const uint8_t *data = rec + sizeof(er_open);
  size_t plen = StrLen(data, path_len);

  Head(config_.disk_head, rec);
  Task(rec + offsetof(er_open, task));
  // The path resolved where it could be: the opened file itself, the base directory joined with a
  // relative path, or an absolute path normalized; else as passed. A walk cut at ER_PATH_DEPTH
  // components holds only the path's lower part: not resolved then.
  line_.append(",\"path\":");
  std::string host;  // the host's view, when the process is chrooted and it differs
  if (res_len > 0 && !(flags2 & ER_F_RES_TRUNCATED)) {
    const uint8_t *res = data + path_len;
    size_t rlen = StrLen(res, res_len);
    // The part of the resolved path above the process's root directory (a chroot): the process
    // sees what follows it ("/" for its root itself).
    uint32_t root = Load<uint32_t>(rec + offsetof(er_open, res_root));
    static const uint8_t kSlash[] = {'/'};
    const uint8_t *seen = res;
    size_t slen = rlen;
    bool chrooted = false;
    if (root > 0 && root < rlen && res[root] == '/') {
      seen = res + root;
      slen = rlen - root;
      chrooted = true;
    } else if (root > 0 && root == rlen) {  // the process's root directory itself
      seen = kSlash;
      slen = 1;
      chrooted = true;
    }
    // In another mount namespace the rest of the walk is that namespace's tree: no host view.
    bool host_view = chrooted && !(flags2 & ER_F_OTHER_MNTNS);
    if (res_kind == ER_RES_FILE) {
      String(seen, slen);
      if (host_view) host.assign(reinterpret_cast<const char *>(res), rlen);
    } else if (res_kind == ER_RES_BASE) {
      std::string p = ResolveRelative(seen, slen, data, plen);
      String(reinterpret_cast<const uint8_t *>(p.data()), p.size());
      if (host_view) host = ResolveRelative(res, rlen, data, plen);
    } else {
      String(data, plen);
    }
  } else if (plen > 0 && data[0] == '/') {
    std::string p = NormalizeAbsolute(data, plen);
    String(reinterpret_cast<const uint8_t *>(p.data()), p.size());
  } else {
    String(data, plen);
  }
  line_.append(",\"flags\":");
  Unsigned(Load<uint64_t>(rec + offsetof(er_open, flags)));
  line_.append(",\"return_code\":");
  Number(Load<int64_t>(rec + offsetof(er_open, retval)));
  if (!host.empty()) {
    line_.append(",\"host_path\":");
    String(reinterpret_cast<const uint8_t *>(host.data()), host.size());
  }
  line_.append("}\n");
}

namespace {

// A DNS query type's mnemonic (the common ones), else RFC 3597's TYPEnnn.
std::string DnsType(uint16_t t) {
  switch (t) {
    case 1: return "A";
    case 2: return "NS";
    case 5: return "CNAME";
    case 6: return "SOA";
    case 12: return "PTR";
    case 15: return "MX";
    case 16: return "TXT";
    case 28: return "AAAA";
    case 33: return "SRV";
    case 64: return "SVCB";
    case 65: return "HTTPS";
    case 255: return "ANY";
    case 257: return "CAA";
    default: return "TYPE" + std::to_string(t);
  }
}

// The question of a DNS query message (from its header; `n` bytes of it kept): the name in
// presentation form (RFC 1035 section 5.1: '.' and '\\' inside a label escaped, bytes outside
// printable ASCII as \DDD; "." for the root) and the type. False when the bytes hold no complete
// question (cut off, or a compression pointer, which a query's only name never needs).
bool DnsQuestion(const uint8_t *m, size_t n, std::string *name, uint16_t *type) {
  size_t i = 12;
  name->clear();
  while (true) {
    if (i >= n) return false;
    uint8_t len = m[i++];
    if (len == 0) break;
    if (len & 0xc0 || i + len > n) return false;
    if (!name->empty()) name->push_back('.');
    for (size_t k = 0; k < len; k++) {
      uint8_t c = m[i + k];
      if (c == '.' || c == '\\') {
        name->push_back('\\');
        name->push_back(static_cast<char>(c));
      } else if (c > 0x20 && c < 0x7f) {
        name->push_back(static_cast<char>(c));
      } else {
        char buf[8];
        snprintf(buf, sizeof(buf), "\\%03u", c);
        name->append(buf);
      }
    }
    i += len;
  }
  if (i + 2 > n) return false;
  if (name->empty()) *name = ".";
  *type = static_cast<uint16_t>(m[i] << 8 | m[i + 1]);
  return true;
}

}  // namespace

void LineFormatter::Network(const uint8_t *rec) {
  const uint8_t *task = rec + offsetof(er_net, task);
  bool v6 = Load<uint16_t>(rec + offsetof(er_net, family)) == kAfInet6;
  auto address = [&](const uint8_t *a) {
    line_.push_back('"');
    char buf[64];
    if (!v6) {
      snprintf(buf, sizeof(buf), "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
      line_.append(buf);
    } else {
      uint16_t g[8];
      for (int i = 0; i < 8; i++) g[i] = static_cast<uint16_t>(a[2 * i] << 8 | a[2 * i + 1]);
      if (!g[0] && !g[1] && !g[2] && !g[3] && !g[4] && g[5] == 0xffff) {
        // IPv4-mapped, in mixed notation (RFC 5952 section 5).
        snprintf(buf, sizeof(buf), "::ffff:%u.%u.%u.%u", a[12], a[13], a[14], a[15]);
        line_.append(buf);
      } else {
        // The longest run of two or more zero groups is compressed, the first one on a tie.
        int best = -1, best_len = 0;
        for (int i = 0; i < 8;) {
          if (g[i]) {
            i++;
            continue;
          }
          int j = i;
          while (j < 8 && !g[j]) j++;
          if (j - i > best_len && j - i >= 2) {
            best = i;
            best_len = j - i;
          }
          i = j;
        }
        for (int i = 0; i < 8; i++) {
          if (i == best) {
            line_.append("::");
            i += best_len - 1;
            continue;
          }
          if (i > 0 && i != best + best_len) line_.push_back(':');
          snprintf(buf, sizeof(buf), "%x", g[i]);
          line_.append(buf);
        }
      }
    }
    line_.push_back('"');
  };
  Head(config_.network_head, rec);
  Task(task);
  line_.append(",\"src_addr\":");
  address(rec + offsetof(er_net, saddr));
  line_.append(",\"dst_addr\":");
  address(rec + offsetof(er_net, daddr));
  line_.append(",\"dst_port\":");
  Unsigned(Load<uint16_t>(rec + offsetof(er_net, dport)));
  line_.append(v6 ? ",\"version\":6" : ",\"version\":4");
  uint8_t operation = Load<uint8_t>(rec + offsetof(er_net, operation));
  line_.append(",\"operation\":");
  Unsigned(operation);
  line_.append(",\"action\":");
  Unsigned(Load<uint8_t>(rec + offsetof(er_net, action)));
  line_.append(Load<uint8_t>(rec + offsetof(er_net, protocol)) == kIpprotoUdp ? ",\"protocol\":\"udp\""
                                                                              : ",\"protocol\":\"tcp\"");
  if (operation == ER_NET_SEND && Load<uint8_t>(rec + offsetof(er_net, action)) == ER_NET_OBSERVED) {
    line_.append(",\"sends\":");
    Unsigned(Load<uint32_t>(rec + offsetof(er_net, sends)));
  }
  std::string name;
  uint16_t type = 0;
  uint32_t dns_len = Load<uint32_t>(rec + offsetof(er_net, dns_len));
  if (dns_len > 0 && DnsQuestion(rec + sizeof(er_net), dns_len, &name, &type)) {
    line_.append(",\"dns_name\":");
    String(reinterpret_cast<const uint8_t *>(name.data()), name.size());
    line_.append(",\"dns_type\":\"");
    line_.append(DnsType(type));
    line_.push_back('"');
  }
  line_.append("}\n");
}

// A session process ended: how (exit status, or the signal and whether it dumped core), after how
// long, and the uid of the session.command line of its last exec, when there was one.
void LineFormatter::Exit(const uint8_t *rec) {
  const uint8_t *task = rec + offsetof(er_exit, task);
  uint32_t pid = Load<uint32_t>(task + offsetof(er_task, pid));
  Head(config_.exit_head, rec);
  Task(task);
  line_.append(",\"ppid\":");
  Unsigned(Load<uint32_t>(task + offsetof(er_task, ppid)));
  int32_t code = Load<int32_t>(rec + offsetof(er_exit, exit_code));
  int sig = code & 0x7f;
  if (sig == 0) {
    line_.append(",\"exit_code\":");
    Unsigned((code >> 8) & 0xff);
  } else {
    const char *abbrev = sigabbrev_np(sig);
    line_.append(",\"signal\":\"SIG");
    line_.append(abbrev ? abbrev : std::to_string(sig));
    line_.push_back('"');
    if (code & 0x80) line_.append(",\"core_dumped\":true");
  }
  uint64_t end = Load<uint64_t>(rec + offsetof(er_hdr, ktime_ns));
  uint64_t start = Load<uint64_t>(rec + offsetof(er_exit, start_ns));
  line_.append(",\"elapsed_ms\":");
  Unsigned(end > start ? (end - start) / 1000000 : 0);
  auto command = last_exec_.find(pid);
  if (command != last_exec_.end()) {
    line_.append(",\"command_uid\":\"");
    line_.append(command->second);
    line_.push_back('"');
    last_exec_.erase(command);
  }
  line_.append("}\n");
}

// A session process moved to another cgroup: a session.cgroup_escape line, unless the destination
// is the session cgroup or below it (false then). The destination path is compared as decoded
// text, as the event shows it.
bool LineFormatter::Migrate(const uint8_t *rec) {
  const uint8_t *task = rec + offsetof(er_migrate, task);
  const uint8_t *path = rec + sizeof(er_migrate);
  size_t plen = StrLen(path, Load<uint32_t>(rec + offsetof(er_migrate, path_len)));
  std::string decoded;
  DecodeUtf8(
      path, plen, [&](const uint8_t *b, const uint8_t *e) { decoded.append(reinterpret_cast<const char *>(b), e - b); },
      [&] { decoded.append("\xef\xbf\xbd"); });
  const std::string &rel = config_.session_cgroup_rel;
  if (decoded.compare(0, rel.size(), rel) == 0 && (decoded.size() == rel.size() || decoded[rel.size()] == '/'))
    return false;
  uint32_t moved = Load<uint32_t>(rec + offsetof(er_migrate, moved_pid));
  Head(config_.escape_head, rec);
  line_.append(",\"pid\":");
  Unsigned(moved);
  // The writer's comm is the moved task's only when it moved itself.
  line_.append(",\"program\":");
  if (moved == Load<uint32_t>(task + offsetof(er_task, pid))) {
    const uint8_t *comm = task + offsetof(er_task, comm);
    String(comm, StrLen(comm, ER_COMM_LEN));
  } else {
    line_.append("\"\"");
  }
  line_.append(",\"cgroup_id\":");
  Unsigned(config_.session_cgroup_id);
  line_.append(",\"new_cgroup_id\":");
  Unsigned(Load<uint64_t>(rec + offsetof(er_migrate, dst_cgroup_id)));
  line_.append(",\"new_cgroup_path\":");
  String(path, plen);
  line_.append("}\n");
  return true;
}

// `"event":…,"code":…,"uid":…,"time":…,<common>` — the header, in Teleport's key order.
void LineFormatter::Head(const std::string &head, const uint8_t *rec) {
  line_.append(head);
  line_.append("\"uid\":\"");
  Uuid();
  line_.append("\",\"time\":\"");
  Time(Load<uint64_t>(rec + offsetof(er_hdr, ktime_ns)));
  line_.append("\",");
  line_.append(config_.common);
}

// `,"pid":…,"cgroup_id":…,"program":…[,"audit_session_id":…]`
void LineFormatter::Task(const uint8_t *task) {
  line_.append(",\"pid\":");
  Unsigned(Load<uint32_t>(task + offsetof(er_task, pid)));
  line_.append(",\"cgroup_id\":");
  Unsigned(Load<uint64_t>(task + offsetof(er_task, cgroup_id)));
  line_.append(",\"program\":");
  const uint8_t *comm = task + offsetof(er_task, comm);
  String(comm, StrLen(comm, ER_COMM_LEN));
  uint32_t session = Load<uint32_t>(task + offsetof(er_task, audit_session_id));
  if (session != kUnset) {
    line_.append(",\"audit_session_id\":");
    Unsigned(session);
  }
}

// A version 4 UUID, as crypto.randomUUID() writes one.
void LineFormatter::Uuid() {
  if (random_left_ < 16) {
    ssize_t n = getrandom(random_, sizeof(random_), 0);
    if (n < 16) n = getrandom(random_, sizeof(random_), 0);  // EINTR; it does not fail otherwise
    random_left_ = n > 0 ? static_cast<size_t>(n) : 0;
  }
  uint8_t b[16] = {};
  if (random_left_ >= 16) {
    random_left_ -= 16;
    std::memcpy(b, random_ + random_left_, 16);
    std::memset(random_ + random_left_, 0, 16);
  }
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  char s[36];
  size_t k = 0;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s[k++] = '-';
    s[k++] = kHex[b[i] >> 4];
    s[k++] = kHex[b[i] & 15];
  }
  line_.append(s, sizeof(s));
}

// RFC 3339 UTC with milliseconds, from the kernel's CLOCK_MONOTONIC stamp, computed as the
// decoder and formatEventTime compute it (same doubles, same flooring).
void LineFormatter::Time(uint64_t ktime_ns) {
  double ms = config_.wall_offset_ms + static_cast<double>(ktime_ns) / 1e6;
  double second = std::floor(ms / 1000);
  int64_t sec = static_cast<int64_t>(second);
  if (sec != time_second_) {
    time_t t = static_cast<time_t>(sec);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(time_prefix_, sizeof(time_prefix_), "%Y-%m-%dT%H:%M:%S.", &tm);
    time_second_ = sec;
  }
  int milli = static_cast<int>(std::floor(ms) - second * 1000);
  char m[8];
  snprintf(m, sizeof(m), "%03dZ", milli);
  line_.append(time_prefix_);
  line_.append(m);
}

void LineFormatter::String(const uint8_t *s, size_t n) {
  line_.push_back('"');
  AppendJsonText(&line_, s, n);
  line_.push_back('"');
}

void LineFormatter::Number(int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  line_.append(buf, r.ptr - buf);
}

void LineFormatter::Unsigned(uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  line_.append(buf, r.ptr - buf);
}
