// Recorded text is chosen by whoever was in the session, and it ends up on an operator's terminal:
// in tables, live lines, warnings, and in JSON and YAML that someone `cat`s. There a C0 or C1
// control (ESC, CSI U+009B, OSC U+009D …) or DEL acts on the terminal, and a bidi control
// (U+202E …) makes a line read differently from what it holds. Every output escapes the same set.

/** DEL, C1, and the bidi controls U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069. */
const BEYOND_C0 = '\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069'
/** That set and C0: what every output escapes. */
const CONTROLS = new RegExp(`[\\u0000-\\u001f${BEYOND_C0}]`, 'g')
const HAS_CONTROLS = new RegExp(`[\\u0000-\\u001f${BEYOND_C0}]`)
/** The set but C0, which JSON.stringify escapes itself (and which is layout in pretty JSON). */
const NOT_C0 = new RegExp(`[${BEYOND_C0}]`, 'g')
const HAS_NOT_C0 = new RegExp(`[${BEYOND_C0}]`)

const hex = (code: number, width: number): string => code.toString(16).padStart(width, '0')

/**
 * Escapes the controls of `text`. `visible` (for human lines): `\n`, `\t`, `\r`, `\x1b`, `\x9b`,
 * `\u202e`. `json` (for text JSON.stringify made): DEL, C1 and bidi as `\u007f`, `\u009b`,
 * `\u202e` — still valid JSON, and it parses back to the same strings.
 */
export function escapeControls(text: string, form: 'visible' | 'json' = 'visible'): string {
  if (form === 'json') return HAS_NOT_C0.test(text) ? text.replace(NOT_C0, (c) => `\\u${hex(c.charCodeAt(0), 4)}`) : text
  if (!HAS_CONTROLS.test(text)) return text
  return text.replace(CONTROLS, (c) => {
    if (c === '\n') return '\\n'
    if (c === '\t') return '\\t'
    if (c === '\r') return '\\r'
    const code = c.charCodeAt(0)
    return code <= 0x9f ? `\\x${hex(code, 2)}` : `\\u${hex(code, 4)}`
  })
}

/** Makes untrusted text safe for one terminal line: controls become visible escapes. */
export function visible(text: string): string {
  return escapeControls(text, 'visible')
}

/** JSON.stringify, with DEL, C1 and bidi controls escaped as well as C0. */
export function safeJson(value: unknown, space?: number): string {
  return escapeControls(JSON.stringify(value, null, space), 'json')
}

/** True when a string holds a character escapeControls escapes. */
export function hasControls(text: string): boolean {
  return HAS_CONTROLS.test(text)
}
