// er_shell.node — the production addon's entry point: registers the capture engine and its preload,
// the wire layout, the kernel probes, the process primitives and the terminal pump (addon.h).
#include <napi.h>

#include <cstdlib>

#include "addon.h"
#include "er_shell.skel.h"

// A hidden test hook (test/check-kernel): the exec entry program is given a program type whose
// context it does not match, so that the kernel's verifier really refuses the object.
static void RejectIfAsked(struct er_shell *skel) {
  const char *reject = getenv("ER_SHELL_TEST_BPF_REJECT");
  if (reject && *reject == '1') {
    bpf_program__set_type(skel->progs.on_exec_enter, BPF_PROG_TYPE_SOCKET_FILTER);
    bpf_program__set_type(skel->progs.on_exec_enter_noloop, BPF_PROG_TYPE_SOCKET_FILTER);
  }
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  AddonOptions options;
  options.before_load = RejectIfAsked;
  RegisterAddon(env, exports, options);
  return exports;
}

NODE_API_MODULE(er_shell, Init)
