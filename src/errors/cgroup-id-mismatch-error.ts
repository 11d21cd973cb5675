// Raised when the cgroup id BPF sees for the session's cgroup is not the one user space computed.
import {ErShellError} from './base.js'

export class CgroupIdMismatchError extends ErShellError {
  constructor(bpf: bigint | undefined, inode: bigint | undefined, cause?: unknown) {
    super('ECGROUPID', `the cgroup id BPF sees (${bpf}) differs from the one user space computed (${inode}): nothing would be recorded`, {cause})
  }
}
