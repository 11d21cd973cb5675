// er_shell_test.node — the test addon: everything the production addon has (addon.h), built from the
// same library, plus functions and hooks that only tests use. Production code never loads it:
// tests reach it through loadNativeTest() (src/native/index.ts), and CLI runs that need its hooks
// through ER_SHELL_NATIVE_DIR=build/Release/test, where the build puts a copy named er_shell.node
// (testAddonDir() in src/native/index.ts). Not part of the package (package.json `files`).
//
// To add a test-only function: write it below (or in a native/test/*.cc of its own, added to the
// er_shell_test target's sources in binding.gyp), list it in kTestFunctions, and declare it in
// NativeTestAddon (src/native/types.ts).
#include <napi.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "addon.h"
#include "engine.h"
#include "er_shell.h"
#include "er_shell.skel.h"
#include "lines.h"

namespace {

// ER_SHELL_TEST_BPF_REJECT=1 (test/commands/check-kernel, test/acceptance/kernels): the exec entry
// program is given a program type whose context it does not match, so that the kernel's verifier
// really refuses the object, as an older kernel would refuse an unknown helper.
void RejectIfAsked(struct er_shell *skel) {
  const char *reject = getenv("ER_SHELL_TEST_BPF_REJECT");
  if (reject && *reject == '1') {
    bpf_program__set_type(skel->progs.on_exec_enter, BPF_PROG_TYPE_SOCKET_FILTER);
    bpf_program__set_type(skel->progs.on_exec_enter_noloop, BPF_PROG_TYPE_SOCKET_FILTER);
  }
}

Napi::Buffer<uint8_t> BufferArg(const Napi::CallbackInfo &info, size_t i) {
  if (info.Length() <= i || !info[i].IsBuffer()) throw Napi::TypeError::New(info.Env(), "expected a Buffer");
  return info[i].As<Napi::Buffer<uint8_t>>();
}

// normalizePath(path): the line formatter's path.posix.normalize for an absolute path.
Napi::Value NormalizePath(const Napi::CallbackInfo &info) {
  Napi::Buffer<uint8_t> p = BufferArg(info, 0);
  std::string out = NormalizeAbsolute(p.Data(), p.Length());
  return Napi::Buffer<char>::Copy(info.Env(), out.data(), out.size());
}

// resolvePath(base, rel): the line formatter's path.posix.resolve for an absolute base.
Napi::Value ResolvePath(const Napi::CallbackInfo &info) {
  Napi::Buffer<uint8_t> b = BufferArg(info, 0);
  Napi::Buffer<uint8_t> r = BufferArg(info, 1);
  std::string out = ResolveRelative(b.Data(), b.Length(), r.Data(), r.Length());
  return Napi::Buffer<char>::Copy(info.Env(), out.data(), out.size());
}

// jsonText(buffer): the JSON string contents the line formatter writes for these bytes.
Napi::Value JsonText(const Napi::CallbackInfo &info) {
  Napi::Buffer<uint8_t> b = BufferArg(info, 0);
  std::string out;
  AppendJsonText(&out, b.Data(), b.Length());
  return Napi::String::New(info.Env(), out);
}

// formatLines(records, lineFormat, sessionCgroupId): runs the line formatter over a buffer of wire
// records (test/engine/fixtures/wire/) as the poll thread does; returns {lines: [[type, ktimeNs, text]],
// malformed}.
Napi::Value FormatLines(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Buffer<uint8_t> b = BufferArg(info, 0);
  LineFormatter::Config c = LineConfigFrom(info[1].As<Napi::Object>());
  bool lossless = false;
  c.session_cgroup_id = info[2].As<Napi::BigInt>().Uint64Value(&lossless);
  LineFormatter formatter(std::move(c));
  Napi::Array lines = Napi::Array::New(env);
  uint32_t malformed = 0;
  std::vector<uint8_t> out;
  size_t off = 0;
  while (off + sizeof(er_hdr) <= b.Length()) {
    er_hdr h;
    std::memcpy(&h, b.Data() + off, sizeof(h));
    if (h.size < sizeof(er_hdr) || off + h.size > b.Length()) {
      malformed++;  // the rest cannot be framed
      break;
    }
    out.clear();
    if (formatter.Append(b.Data() + off, h.size, &out) == LineFormatter::kMalformed) malformed++;
    if (!out.empty()) {
      er_hdr lh;
      std::memcpy(&lh, out.data(), sizeof(lh));
      Napi::Array line = Napi::Array::New(env, 3);
      line.Set(0u, static_cast<double>(lh.type));
      line.Set(1u, Napi::BigInt::New(env, static_cast<uint64_t>(lh.ktime_ns)));
      line.Set(
          2u, Napi::String::New(env, reinterpret_cast<const char *>(out.data() + sizeof(lh)), out.size() - sizeof(lh)));
      lines.Set(lines.Length(), line);
    }
    off += h.size;
  }
  Napi::Object r = Napi::Object::New(env);
  r.Set("lines", lines);
  r.Set("malformed", static_cast<double>(malformed));
  return r;
}

struct TestFunction {
  const char *name;
  Napi::Value (*fn)(const Napi::CallbackInfo &);
};

const TestFunction kTestFunctions[] = {
    {"normalizePath", NormalizePath},
    {"resolvePath", ResolvePath},
    {"jsonText", JsonText},
    {"formatLines", FormatLines},
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  AddonOptions options;
  options.before_load = RejectIfAsked;
  RegisterAddon(env, exports, options);
  for (const TestFunction &t : kTestFunctions) exports.Set(t.name, Napi::Function::New(env, t.fn, t.name));
  return exports;
}

}  // namespace

NODE_API_MODULE(er_shell_test, Init)
