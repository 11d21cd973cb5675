// errors.h — turn -errno into a JS Error carrying `code` (EPERM, ENOENT, ...) and `errno`.
#pragma once
#include <napi.h>

#include <cerrno>
#include <cstring>
#include <string>

inline const char *ErrnoName(int err) {
  switch (err) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case ESRCH: return "ESRCH";
    case EINTR: return "EINTR";
    case EIO: return "EIO";
    case E2BIG: return "E2BIG";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case ENODEV: return "ENODEV";
    case ENOTDIR: return "ENOTDIR";
    case EINVAL: return "EINVAL";
    case ENOSPC: return "ENOSPC";
    case EROFS: return "EROFS";
    case ENOSYS: return "ENOSYS";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ESTALE: return "ESTALE";
    default: return "EUNKNOWN";
  }
}

// err is a positive errno value.
inline Napi::Error ErrnoError(Napi::Env env, int err, const std::string &what) {
  std::string msg = what + ": " + std::strerror(err) + " (" + ErrnoName(err) + ")";
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, ErrnoName(err)));
  e.Set("errno", Napi::Number::New(env, -err));
  return e;
}

// The same with `detail` (libbpf's log, say), when there is any, on lines of its own after `what`
// (so before ": strerror (CODE)"): the one shape of a failed step of the capture engine.
inline Napi::Error ErrnoError(Napi::Env env, int err, const std::string &what, const std::string &detail) {
  return ErrnoError(env, err, detail.empty() ? what : what + "\n" + detail);
}
