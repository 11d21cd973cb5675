// Raised when the compiled addon (build/Release/er_shell.node) cannot be loaded.
import {ErShellError} from './base.js'

export class NativeLoadError extends ErShellError {
  readonly tried: string[]

  constructor(tried: string[], cause: unknown) {
    super(
      'ENATIVE',
      `the native addon is not built or cannot load (tried ${tried.join(', ')}): run \`npm run build\` (needs clang, libbpf-dev; see scripts/setup.sh)`,
      {cause, exitCode: 2},
    )
    this.tried = tried
  }
}
