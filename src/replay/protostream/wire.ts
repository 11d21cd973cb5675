// Protocol Buffers wire format, the little of it ProtoStream needs: varints, length-delimited
// fields, nested messages (docs/protostream.md, "Encoding").

/** Wire types. */
export const VARINT = 0
export const FIXED64 = 1
export const LEN = 2
export const FIXED32 = 5

/** Appends the varint of a non-negative integer (≤ 2^53) or, for a negative one, its 64-bit two's complement (10 bytes). */
function pushVarint(out: number[], value: number): void {
  if (value < 0) {
    let v = BigInt.asUintN(64, BigInt(Math.trunc(value)))
    while (v >= 0x80n) {
      out.push(Number(v & 0x7fn) | 0x80)
      v >>= 7n
    }
    out.push(Number(v))
    return
  }
  let v = Math.trunc(value)
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80)
    v = Math.floor(v / 0x80)
  }
  out.push(v)
}

export function varintBytes(value: number): Buffer {
  const out: number[] = []
  pushVarint(out, value)
  return Buffer.from(out)
}

/**
 * Builds one message. Proto3: zero numbers, false, empty strings, empty bytes and empty nested
 * messages are left out (readers take a missing field as its zero value).
 */
export class ProtoWriter {
  private readonly parts: Buffer[] = []
  private size = 0

  private push(buffer: Buffer): void {
    this.parts.push(buffer)
    this.size += buffer.length
  }

  private tag(field: number, wireType: number): void {
    this.push(varintBytes(field * 8 + wireType))
  }

  /** int32, int64, uint32, uint64, enum (plain varint; negative values sign-extended to 10 bytes). */
  int(field: number, value: number | undefined): this {
    if (value === undefined || value === 0 || !Number.isFinite(value)) return this
    this.tag(field, VARINT)
    this.push(varintBytes(value))
    return this
  }

  bool(field: number, value: boolean | undefined): this {
    if (value !== true) return this
    this.tag(field, VARINT)
    this.push(Buffer.of(1))
    return this
  }

  string(field: number, value: string | undefined): this {
    if (value === undefined || value === '') return this
    return this.bytes(field, Buffer.from(value, 'utf8'))
  }

  strings(field: number, values: readonly string[] | undefined): this {
    // Every element is written, empty ones too: a repeated field keeps its length.
    for (const value of values ?? []) this.bytesAlways(field, Buffer.from(value, 'utf8'))
    return this
  }

  bytes(field: number, value: Buffer | undefined): this {
    if (value === undefined || value.length === 0) return this
    return this.bytesAlways(field, value)
  }

  message(field: number, value: ProtoWriter | undefined): this {
    if (value === undefined || value.length === 0) return this
    return this.bytesAlways(field, value.finish())
  }

  /** An already encoded message as field `field`, written even when empty (a OneOf's event). */
  embed(field: number, encoded: Buffer): this {
    return this.bytesAlways(field, encoded)
  }

  /** The encoded length so far. */
  get length(): number {
    return this.size
  }

  finish(): Buffer {
    return this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.size)
  }

  private bytesAlways(field: number, value: Buffer): this {
    this.tag(field, LEN)
    this.push(varintBytes(value.length))
    this.push(value)
    return this
  }
}

/** One field as read: a varint's value (as a bigint, exact), or a length-delimited field's bytes. */
export type WireField = {field: number; wireType: typeof VARINT; value: bigint} | {field: number; wireType: typeof LEN; bytes: Buffer}

export class WireError extends Error {}

/** Reads the fields of one message in order; fixed32/fixed64 are skipped, groups are an error. */
export function* readFields(buffer: Buffer): Generator<WireField> {
  let pos = 0
  const varint = (): bigint => {
    let result = 0n
    let shift = 0n
    for (let i = 0; i < 10; i++) {
      if (pos >= buffer.length) throw new WireError('varint cut short')
      const byte = buffer[pos++]!
      result |= BigInt(byte & 0x7f) << shift
      if ((byte & 0x80) === 0) return BigInt.asUintN(64, result)
      shift += 7n
    }
    throw new WireError('varint longer than 10 bytes')
  }
  while (pos < buffer.length) {
    const key = varint()
    const field = Number(key >> 3n)
    const wireType = Number(key & 7n)
    if (field === 0) throw new WireError('field number 0')
    if (wireType === VARINT) yield {field, wireType, value: varint()}
    else if (wireType === LEN) {
      const length = Number(varint())
      if (pos + length > buffer.length) throw new WireError(`field ${field}: ${length} bytes announced, ${buffer.length - pos} left`)
      yield {field, wireType, bytes: buffer.subarray(pos, pos + length)}
      pos += length
    } else if (wireType === FIXED64) pos += 8
    else if (wireType === FIXED32) pos += 4
    else throw new WireError(`field ${field}: unsupported wire type ${wireType}`)
    if (pos > buffer.length) throw new WireError('fixed-size field cut short')
  }
}

/** A varint as a signed 64-bit number (int64/int32 fields), within ±2^53. */
export function signed(value: bigint): number {
  return Number(BigInt.asIntN(64, value))
}
