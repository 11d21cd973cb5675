// The Teleport event messages a ProtoStream holds, as field tables (docs/protostream.md): one table
// serves the encoder (er-shell event → OneOf bytes) and the decoder (OneOf bytes → event).
import {LEN, ProtoWriter, VARINT, readFields, signed, type WireField} from './wire.js'

/** A scalar field of an event, by its JSON key (the key er-shell and Teleport write). */
export type FieldKind = 'string' | 'strings' | 'int' | 'bool' | 'time'
export interface FieldSpec {
  n: number
  key: string
  kind: FieldKind
}

/** The embedded common blocks (each a nested message; its keys are flat in JSON). */
export const BLOCKS = {
  metadata: [
    {n: 1, key: 'ei', kind: 'int'},
    {n: 2, key: 'event', kind: 'string'},
    {n: 3, key: 'uid', kind: 'string'},
    {n: 4, key: 'code', kind: 'string'},
    {n: 5, key: 'time', kind: 'time'},
    {n: 6, key: 'cluster_name', kind: 'string'},
  ],
  user: [
    {n: 1, key: 'user', kind: 'string'},
    {n: 2, key: 'login', kind: 'string'},
  ],
  session: [{n: 1, key: 'sid', kind: 'string'}],
  server: [
    {n: 1, key: 'namespace', kind: 'string'},
    {n: 2, key: 'server_id', kind: 'string'},
    {n: 3, key: 'server_hostname', kind: 'string'},
  ],
  connection: [
    {n: 1, key: 'addr.local', kind: 'string'},
    {n: 2, key: 'addr.remote', kind: 'string'},
    {n: 3, key: 'proto', kind: 'string'},
  ],
  bpf: [
    {n: 1, key: 'pid', kind: 'int'},
    {n: 2, key: 'cgroup_id', kind: 'int'},
    {n: 3, key: 'program', kind: 'string'},
    {n: 4, key: 'audit_session_id', kind: 'int'},
  ],
} as const satisfies Record<string, readonly FieldSpec[]>

export type BlockName = keyof typeof BLOCKS

export interface MessageSchema {
  /** The event's field number in OneOf. */
  oneof: number
  type: string
  code?: string
  /** Embedded blocks by field number. */
  blocks: Readonly<Record<number, BlockName>>
  fields: readonly FieldSpec[]
}

const SESSION_BLOCKS = {1: 'metadata', 2: 'user', 3: 'session', 4: 'server', 5: 'connection'} as const
const CONN_SERVER = {1: 'metadata', 2: 'user', 3: 'session', 4: 'connection', 5: 'server'} as const
const BPF_BLOCKS = {1: 'metadata', 2: 'user', 3: 'session', 4: 'server', 5: 'bpf'} as const

/** The messages er-shell writes and reads, by event type. */
export const MESSAGES: Readonly<Record<string, MessageSchema>> = {
  'session.start': {
    oneof: 5,
    type: 'session.start',
    code: 'T2000I',
    blocks: SESSION_BLOCKS,
    fields: [
      {n: 6, key: 'size', kind: 'string'},
      {n: 9, key: 'initial_command', kind: 'strings'},
      {n: 10, key: 'session_recording', kind: 'string'},
      {n: 12, key: 'invited', kind: 'strings'},
      {n: 13, key: 'reason', kind: 'string'},
    ],
  },
  'session.join': {oneof: 6, type: 'session.join', code: 'T2001I', blocks: SESSION_BLOCKS, fields: []},
  print: {
    oneof: 7,
    type: 'print',
    blocks: {1: 'metadata'},
    fields: [
      {n: 2, key: 'ci', kind: 'int'},
      // 3 is Data (bytes): handled apart, never a JSON key.
      {n: 4, key: 'bytes', kind: 'int'},
      {n: 5, key: 'ms', kind: 'int'},
      {n: 6, key: 'offset', kind: 'int'},
    ],
  },
  resize: {oneof: 9, type: 'resize', code: 'T2002I', blocks: CONN_SERVER, fields: [{n: 6, key: 'size', kind: 'string'}]},
  'session.end': {
    oneof: 10,
    type: 'session.end',
    code: 'T2004I',
    blocks: CONN_SERVER,
    fields: [
      {n: 6, key: 'enhanced_recording', kind: 'bool'},
      {n: 7, key: 'interactive', kind: 'bool'},
      {n: 8, key: 'participants', kind: 'strings'},
      {n: 9, key: 'session_start', kind: 'time'},
      {n: 10, key: 'session_stop', kind: 'time'},
      {n: 13, key: 'initial_command', kind: 'strings'},
      {n: 14, key: 'session_recording', kind: 'string'},
    ],
  },
  'session.command': {
    oneof: 11,
    type: 'session.command',
    code: 'T4000I',
    blocks: BPF_BLOCKS,
    fields: [
      {n: 6, key: 'ppid', kind: 'int'},
      {n: 7, key: 'path', kind: 'string'},
      {n: 8, key: 'argv', kind: 'strings'},
      {n: 9, key: 'return_code', kind: 'int'},
    ],
  },
  'session.disk': {
    oneof: 12,
    type: 'session.disk',
    code: 'T4001I',
    blocks: BPF_BLOCKS,
    fields: [
      {n: 6, key: 'path', kind: 'string'},
      {n: 7, key: 'flags', kind: 'int'},
      {n: 8, key: 'return_code', kind: 'int'},
    ],
  },
  'session.network': {
    oneof: 13,
    type: 'session.network',
    code: 'T4002I',
    blocks: BPF_BLOCKS,
    fields: [
      {n: 6, key: 'src_addr', kind: 'string'},
      {n: 7, key: 'dst_addr', kind: 'string'},
      {n: 8, key: 'dst_port', kind: 'int'},
      {n: 9, key: 'version', kind: 'int'},
      {n: 10, key: 'operation', kind: 'int'},
      {n: 11, key: 'action', kind: 'int'},
    ],
  },
  'session.data': {
    oneof: 14,
    type: 'session.data',
    code: 'T2006I',
    blocks: SESSION_BLOCKS,
    fields: [
      {n: 6, key: 'tx', kind: 'int'},
      {n: 7, key: 'rx', kind: 'int'},
    ],
  },
  'session.leave': {oneof: 15, type: 'session.leave', code: 'T2003I', blocks: SESSION_BLOCKS, fields: []},
}

const BY_ONEOF = new Map(Object.values(MESSAGES).map((m) => [m.oneof, m]))

/** OneOf numbers of events that are not terminal sessions (tsh refuses to play them). */
export const NOT_A_TERMINAL_SESSION: ReadonlyMap<number, string> = new Map([
  [37, 'an application session'],
  [38, 'an application session'],
  [40, 'a database session'],
  [59, 'a Windows desktop session'],
  [69, 'a desktop recording'],
])

/** RFC 3339 → Timestamp {1: seconds, 2: nanos}. */
function timestamp(value: unknown): ProtoWriter | undefined {
  if (typeof value !== 'string') return undefined
  const ms = Date.parse(value)
  if (Number.isNaN(ms)) return undefined
  const seconds = Math.floor(ms / 1000)
  return new ProtoWriter().int(1, seconds).int(2, (ms - seconds * 1000) * 1_000_000)
}

function writeField(w: ProtoWriter, spec: FieldSpec, value: unknown): void {
  switch (spec.kind) {
    case 'string':
      if (typeof value === 'string') w.string(spec.n, value)
      break
    case 'strings':
      if (Array.isArray(value)) w.strings(spec.n, value.map(String))
      break
    case 'int':
      if (typeof value === 'number') w.int(spec.n, value)
      break
    case 'bool':
      if (typeof value === 'boolean') w.bool(spec.n, value)
      break
    case 'time':
      w.message(spec.n, timestamp(value))
      break
  }
}

/**
 * The event message (not yet wrapped in OneOf) for an event with er-shell's JSON keys; `data` is
 * a print's terminal output. Keys with no field in Teleport's message are left out.
 */
export function encodeEvent(schema: MessageSchema, event: Readonly<Record<string, unknown>>, data?: Buffer): Buffer {
  const w = new ProtoWriter()
  const numbers = [...Object.keys(schema.blocks).map(Number), ...schema.fields.map((f) => f.n), ...(data && schema.oneof === 7 ? [3] : [])].sort(
    (a, b) => a - b,
  )
  for (const n of numbers) {
    const block = schema.blocks[n]
    if (block !== undefined) {
      const inner = new ProtoWriter()
      for (const spec of BLOCKS[block]) writeField(inner, spec, event[spec.key])
      w.message(n, inner)
    } else if (n === 3) w.bytes(3, data)
    else {
      const spec = schema.fields.find((f) => f.n === n)!
      writeField(w, spec, event[spec.key])
    }
  }
  return w.finish()
}

/** Wraps an event message in OneOf. */
export function wrapOneOf(schema: MessageSchema, message: Buffer): Buffer {
  const w = new ProtoWriter()
  return w.embed(schema.oneof, message).finish()
}

export interface DecodedEvent {
  /** OneOf field number. */
  oneof: number
  /** The event with JSON keys (Teleport's), as far as the tables know its fields. */
  event: Record<string, unknown>
  /** A print's Data. */
  data?: Buffer
}

function readValue(spec: FieldSpec, field: WireField, into: Record<string, unknown>): void {
  if (spec.kind === 'string' && field.wireType === LEN) into[spec.key] = field.bytes.toString('utf8')
  else if (spec.kind === 'strings' && field.wireType === LEN) ((into[spec.key] ??= []) as string[]).push(field.bytes.toString('utf8'))
  else if (spec.kind === 'int' && field.wireType === VARINT) into[spec.key] = signed(field.value)
  else if (spec.kind === 'bool' && field.wireType === VARINT) into[spec.key] = field.value !== 0n
  else if (spec.kind === 'time' && field.wireType === LEN) {
    let seconds = 0
    let nanos = 0
    for (const f of readFields(field.bytes)) {
      if (f.wireType !== VARINT) continue
      if (f.field === 1) seconds = signed(f.value)
      else if (f.field === 2) nanos = signed(f.value)
    }
    into[spec.key] = new Date(seconds * 1000 + Math.floor(nanos / 1_000_000)).toISOString()
  }
}

const KEY_ORDER = ['ei', 'event', 'code', 'uid', 'time']

/** ei, event, code, uid, time first, as er-shell writes events; the rest as read. */
function orderKeys(event: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const key of KEY_ORDER) if (key in event) out[key] = event[key]
  return Object.assign(out, event)
}

/**
 * Decodes one OneOf. Unknown event numbers keep their Metadata (field 1 of every event message),
 * so the type and time are still known. Returns undefined for an empty OneOf.
 */
export function decodeOneOf(oneof: Buffer): DecodedEvent | undefined {
  let found: DecodedEvent | undefined
  for (const field of readFields(oneof)) {
    if (field.wireType !== LEN) continue
    const schema = BY_ONEOF.get(field.field)
    const event: Record<string, unknown> = {}
    let data: Buffer | undefined
    for (const inner of readFields(field.bytes)) {
      const block = schema ? schema.blocks[inner.field] : inner.field === 1 ? 'metadata' : undefined
      if (block !== undefined) {
        if (inner.wireType !== LEN) continue
        for (const f of readFields(inner.bytes)) {
          const spec = BLOCKS[block].find((s) => s.n === f.field)
          if (spec) readValue(spec, f, event)
        }
      } else if (schema?.oneof === 7 && inner.field === 3 && inner.wireType === LEN) data = Buffer.from(inner.bytes)
      else {
        const spec = schema?.fields.find((s) => s.n === inner.field)
        if (spec) readValue(spec, inner, event)
      }
    }
    // Numbers and flags left out on the wire are zero (proto3); JSON shows them, as Teleport's does.
    event.ei ??= 0
    for (const spec of schema?.fields ?? []) {
      if (spec.kind === 'int') event[spec.key] ??= 0
      else if (spec.kind === 'bool') event[spec.key] ??= false
    }
    if (schema?.blocks[5] === 'bpf') for (const key of ['pid', 'cgroup_id']) event[key] ??= 0
    // The last one wins, as in protobuf.
    found = {oneof: field.field, event: orderKeys(event), data}
  }
  return found
}
