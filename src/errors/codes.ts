// Every code an ErShellError can carry, as a closed union: a code is never a free string.

/**
 * Each error class's code, with the class that carries it (one class per code; index.ts exports
 * them all). The CLI shows only the message and exits with the class's exit status; the code is
 * for programs that catch the error.
 */
export const CLASS_CODES = {
  EBPF: 'CaptureStartError',
  ECGROUP: 'CgroupError',
  ECGROUPID: 'CgroupIdMismatchError',
  ECOMMAND_NOT_FOUND: 'CommandNotFoundError',
  ECONFIG: 'ConfigError',
  ECONFIG_READ: 'ConfigReadError',
  ECONFIG_SYNTAX: 'ConfigSyntaxError',
  EDATA_DIR: 'DataDirNotFoundError',
  EHELPER: 'HelperError',
  EINTEGRITY_KEY: 'IntegrityKeyError',
  EINVALID_FILTER: 'InvalidFilterError',
  EKERNELCHECK: 'KernelCheckError',
  ELIVE: 'LiveWriteError',
  EMOUNT: 'MountError',
  ENATIVE: 'NativeLoadError',
  ENOLOGIN: 'LoginRefusedError',
  ENOUSER: 'NoSuchAccountError',
  ENO_LIVE_SESSION: 'NoLiveSessionError',
  EPERM: 'InsufficientPrivilegesError',
  ERECORDING_DISABLED: 'RecordingDisabledError',
  ERECORDING_INCOMPLETE: 'RecordingIncompleteError',
  ERECORDING_READ: 'RecordingReadError',
  ESERVER_ID: 'ServerIdError',
  ESESSION_AMBIGUOUS: 'AmbiguousSessionError',
  ESESSION_EXISTS: 'SessionExistsError',
  ESESSION_NOT_FOUND: 'SessionNotFoundError',
  ESID_INVALID: 'InvalidSessionIdError',
  ESTORAGE_WRITE: 'StorageWriteError',
  ESTORE: 'StoreError',
  ESTORE_SCHEMA: 'StoreSchemaError',
  EUNSAFE_CONFIG: 'UnsafeConfigFileError',
  EUNSAFE_LIVE: 'UnsafeLiveTargetError',
  EUNSAFE_LOG_TREE: 'UnsafeLogTreeError',
  EUNSAFE_MOUNT_POINT: 'UnsafeMountPointError',
  EUSAGE: 'UsageError',
} as const

export type ClassCode = keyof typeof CLASS_CODES

/**
 * The errno names the native addon puts in an error's `code` (ErrnoName in native/src/errors.h).
 * A failed capture start keeps the name as its code (CaptureStartError), so these are codes too.
 */
export const ERRNO_CODES = [
  'EPERM',
  'ENOENT',
  'ESRCH',
  'EINTR',
  'EIO',
  'E2BIG',
  'EBADF',
  'EAGAIN',
  'ENOMEM',
  'EACCES',
  'EFAULT',
  'EBUSY',
  'EEXIST',
  'ENODEV',
  'ENOTDIR',
  'EINVAL',
  'ENOSPC',
  'EROFS',
  'ENOSYS',
  'EOPNOTSUPP',
  'ESTALE',
  'EUNKNOWN',
] as const

export type ErrnoCode = (typeof ERRNO_CODES)[number]

/** Every code an ErShellError can carry. */
export type ErrorCode = ClassCode | ErrnoCode

const ERRNO_SET: ReadonlySet<string> = new Set(ERRNO_CODES)

export function isErrnoCode(code: unknown): code is ErrnoCode {
  return typeof code === 'string' && ERRNO_SET.has(code)
}

export function isErrorCode(code: unknown): code is ErrorCode {
  return isErrnoCode(code) || (typeof code === 'string' && Object.hasOwn(CLASS_CODES, code))
}
