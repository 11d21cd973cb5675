#!/usr/bin/env node
// er-shell entry point (oclif).
import {execute} from '@oclif/core'

await execute({dir: import.meta.url})
