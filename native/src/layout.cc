// layout.cc — see layout.h.
#include "layout.h"

#include <cstddef>

#include "er_shell.h"

namespace {

// Every member, padding included, so that a test can prove the struct has no implicit padding.
#define FIELD(obj, type, field)                                                           \
  do {                                                                                    \
    obj.Set(#field, Napi::Number::New(env, offsetof(type, field)));                      \
    obj##_sizes.Set(#field, Napi::Number::New(env, sizeof(static_cast<type *>(nullptr)->field))); \
  } while (0)

Napi::Object Struct(Napi::Env env, size_t size, Napi::Object offsets, Napi::Object sizes) {
  Napi::Object s = Napi::Object::New(env);
  s.Set("size", Napi::Number::New(env, static_cast<double>(size)));
  s.Set("offsets", offsets);
  s.Set("sizes", sizes);
  return s;
}

}  // namespace

Napi::Value Layout(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Object structs = Napi::Object::New(env);

  Napi::Object hdr = Napi::Object::New(env);
  Napi::Object hdr_sizes = Napi::Object::New(env);
  FIELD(hdr, er_hdr, type);
  FIELD(hdr, er_hdr, size);
  FIELD(hdr, er_hdr, ktime_ns);
  structs.Set("er_hdr", Struct(env, sizeof(er_hdr), hdr, hdr_sizes));

  Napi::Object task = Napi::Object::New(env);
  Napi::Object task_sizes = Napi::Object::New(env);
  FIELD(task, er_task, cgroup_id);
  FIELD(task, er_task, pid);
  FIELD(task, er_task, tid);
  FIELD(task, er_task, ppid);
  FIELD(task, er_task, uid);
  FIELD(task, er_task, loginuid);
  FIELD(task, er_task, audit_session_id);
  FIELD(task, er_task, scope);
  FIELD(task, er_task, _pad);
  FIELD(task, er_task, comm);
  structs.Set("er_task", Struct(env, sizeof(er_task), task, task_sizes));

  Napi::Object ex = Napi::Object::New(env);
  Napi::Object ex_sizes = Napi::Object::New(env);
  FIELD(ex, er_exec, hdr);
  FIELD(ex, er_exec, task);
  FIELD(ex, er_exec, retval);
  FIELD(ex, er_exec, syscall);
  FIELD(ex, er_exec, dirfd);
  FIELD(ex, er_exec, at_flags);
  FIELD(ex, er_exec, flags);
  FIELD(ex, er_exec, path_len);
  FIELD(ex, er_exec, args_len);
  FIELD(ex, er_exec, exe_len);
  FIELD(ex, er_exec, argv_skip);
  FIELD(ex, er_exec, _pad);
  structs.Set("er_exec", Struct(env, sizeof(er_exec), ex, ex_sizes));

  Napi::Object op = Napi::Object::New(env);
  Napi::Object op_sizes = Napi::Object::New(env);
  FIELD(op, er_open, hdr);
  FIELD(op, er_open, task);
  FIELD(op, er_open, retval);
  FIELD(op, er_open, flags);
  FIELD(op, er_open, mode);
  FIELD(op, er_open, dirfd);
  FIELD(op, er_open, syscall);
  FIELD(op, er_open, flags2);
  FIELD(op, er_open, path_len);
  FIELD(op, er_open, res_len);
  FIELD(op, er_open, res_kind);
  FIELD(op, er_open, _pad);
  structs.Set("er_open", Struct(env, sizeof(er_open), op, op_sizes));

  Napi::Object co = Napi::Object::New(env);
  Napi::Object co_sizes = Napi::Object::New(env);
  FIELD(co, er_connect, hdr);
  FIELD(co, er_connect, task);
  FIELD(co, er_connect, saddr);
  FIELD(co, er_connect, daddr);
  FIELD(co, er_connect, sport);
  FIELD(co, er_connect, dport);
  FIELD(co, er_connect, family);
  FIELD(co, er_connect, _pad);
  FIELD(co, er_connect, _pad2);
  structs.Set("er_connect", Struct(env, sizeof(er_connect), co, co_sizes));

  Napi::Object mi = Napi::Object::New(env);
  Napi::Object mi_sizes = Napi::Object::New(env);
  FIELD(mi, er_migrate, hdr);
  FIELD(mi, er_migrate, task);
  FIELD(mi, er_migrate, dst_cgroup_id);
  FIELD(mi, er_migrate, moved_pid);
  FIELD(mi, er_migrate, dst_level);
  FIELD(mi, er_migrate, path_len);
  FIELD(mi, er_migrate, _pad);
  structs.Set("er_migrate", Struct(env, sizeof(er_migrate), mi, mi_sizes));

  Napi::Object c = Napi::Object::New(env);
#define CONST(name) c.Set(#name, Napi::Number::New(env, static_cast<double>(name)))
  CONST(ER_PATH_MAX);
  CONST(ER_ARGS_MAX);
  CONST(ER_ARG_MAX_FAIL);
  CONST(ER_ARGC_MAX_FAIL);
  CONST(ER_PATH_DEPTH);
  CONST(ER_COMM_LEN);
  CONST(ER_REC_EXEC);
  CONST(ER_REC_OPEN);
  CONST(ER_REC_CONNECT);
  CONST(ER_REC_MIGRATE);
  CONST(ER_REC_LINE);
  CONST(ER_KIND_COMMAND);
  CONST(ER_KIND_DISK);
  CONST(ER_KIND_NETWORK);
  CONST(ER_KIND_CONTROL);
  CONST(ER_KIND_TRACKING);
  CONST(ER_KIND_PENDING);
  CONST(ER_NKINDS);
  CONST(ER_SCOPE_CGROUP);
  CONST(ER_SCOPE_TRACKED);
  CONST(ER_F_ARGS_TRUNCATED);
  CONST(ER_F_PATH_TRUNCATED);
  CONST(ER_F_RES_TRUNCATED);
  CONST(ER_F_ARGS_FROM_MM);
  CONST(ER_RES_NONE);
  CONST(ER_RES_FILE);
  CONST(ER_RES_BASE);
  CONST(ER_SYS_EXECVE);
  CONST(ER_SYS_EXECVEAT);
  CONST(ER_SYS_OPEN);
  CONST(ER_SYS_OPENAT);
  CONST(ER_SYS_OPENAT2);
  CONST(ER_SYS_CREAT);
#undef CONST

  Napi::Object out = Napi::Object::New(env);
  out.Set("structs", structs);
  out.Set("constants", c);
  return out;
}
