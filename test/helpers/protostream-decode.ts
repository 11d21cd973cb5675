// A second, independent ProtoStream decoder for tests: its own part/gzip/record framing and its own
// protobuf field tables (docs/protostream.md), sharing no code with src/replay/protostream/.
import assert from 'node:assert/strict'
import * as zlib from 'node:zlib'

export interface Field {
  n: number
  wire: number
  /** varint value (exact) */
  v?: bigint
  /** length-delimited bytes */
  b?: Buffer
  /** bytes the whole field takes (key, length, value) */
  size: number
}

export function fields(buf: Buffer): Field[] {
  const out: Field[] = []
  let i = 0
  const varint = (): bigint => {
    let r = 0n
    for (let shift = 0n; ; shift += 7n) {
      assert.ok(i < buf.length, 'varint runs past the message')
      const byte = buf[i++]!
      r |= BigInt(byte & 0x7f) << shift
      if (byte < 0x80) return r
    }
  }
  while (i < buf.length) {
    const start = i
    const key = varint()
    const n = Number(key >> 3n)
    const wire = Number(key & 7n)
    if (wire === 0) out.push({n, wire, v: varint(), size: 0})
    else if (wire === 2) {
      const len = Number(varint())
      out.push({n, wire, b: buf.subarray(i, i + len), size: 0})
      i += len
    } else assert.fail(`unexpected wire type ${wire}`)
    out[out.length - 1]!.size = i - start
  }
  assert.equal(i, buf.length)
  return out
}

export const str = (f: Field[], n: number): string | undefined => f.find((x) => x.n === n)?.b?.toString('utf8')
export const strs = (f: Field[], n: number): string[] => f.filter((x) => x.n === n).map((x) => x.b!.toString('utf8'))
export const int = (f: Field[], n: number): number => Number(BigInt.asIntN(64, f.find((x) => x.n === n)?.v ?? 0n))
export const sub = (f: Field[], n: number): Field[] => fields(f.find((x) => x.n === n)?.b ?? Buffer.alloc(0))
export const time = (f: Field[], n: number): string => {
  const t = sub(f, n)
  return new Date(int(t, 1) * 1000 + int(t, 2) / 1e6).toISOString()
}

/** OneOf numbers (docs/protostream.md) and where each event keeps its common blocks. */
export const ONEOF: Record<number, string> = {
  5: 'session.start',
  7: 'print',
  9: 'resize',
  10: 'session.end',
  11: 'session.command',
  12: 'session.disk',
  13: 'session.network',
  14: 'session.data',
}

export interface Decoded {
  part: number
  oneofSize: number
  type: string
  message: Buffer
  f: Field[]
  /** Metadata */
  ei: number
  event: string
  uid?: string
  code?: string
  time: string
  cluster?: string
}

export interface Parsed {
  parts: Array<{version: number; partSize: number; padding: number}>
  records: Decoded[]
}

/** Parts (24-byte big-endian headers), one gzip member each, uint32 length-prefixed OneOfs. */
export function parseFile(file: Buffer): Parsed {
  const parsed: Parsed = {parts: [], records: []}
  let at = 0
  while (at < file.length) {
    assert.ok(file.length - at >= 24, 'part header cut short')
    const version = Number(file.readBigUInt64BE(at))
    const partSize = Number(file.readBigUInt64BE(at + 8))
    const padding = Number(file.readBigUInt64BE(at + 16))
    parsed.parts.push({version, partSize, padding})
    const body = file.subarray(at + 24, at + 24 + partSize)
    assert.equal(body.length, partSize, 'PartSize runs past the file')
    assert.deepEqual([...body.subarray(0, 3)], [0x1f, 0x8b, 8], 'a gzip member (deflate)')
    // Exactly one member: inflating the member alone consumes the whole body.
    const records = zlib.gunzipSync(body)
    let r = 0
    while (r < records.length) {
      assert.ok(records.length - r >= 4, 'length prefix cut short')
      const n = records.readUInt32BE(r)
      assert.ok(n > 0 && n <= 65536, `record size ${n}`)
      assert.ok(records.length - r - 4 >= n, 'record cut short')
      const oneof = fields(records.subarray(r + 4, r + 4 + n))
      assert.equal(oneof.length, 1, 'one event per OneOf')
      const type = ONEOF[oneof[0]!.n]
      assert.ok(type, `OneOf field ${oneof[0]!.n}`)
      const message = oneof[0]!.b!
      const f = fields(message)
      const md = sub(f, 1)
      parsed.records.push({
        part: parsed.parts.length - 1,
        oneofSize: n,
        type,
        message,
        f,
        ei: int(md, 1),
        event: str(md, 2)!,
        uid: str(md, 3),
        code: str(md, 4),
        time: time(md, 5),
        cluster: str(md, 6),
      })
      r += 4 + n
    }
    at += 24 + partSize + padding
  }
  return parsed
}
