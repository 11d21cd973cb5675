// The browser side of `replay --format html`: the script embedded in the page (as text; it runs in
// the browser, not in Node). It builds the facts, the timeline and the player from the JSON data
// blocks, with DOM text nodes only (no innerHTML, no URLs): every recorded string stays text.
export const APP_SCRIPT = String.raw`(() => {
  'use strict'
  const $ = (id) => document.getElementById(id)
  const el = (tag, cls, text) => {
    const e = document.createElement(tag)
    if (cls) e.className = cls
    if (text !== undefined) e.textContent = text
    return e
  }
  /** Concatenated arrays of every data block of a class, in page order; the blocks are dropped after. */
  const read = (cls) => {
    const out = []
    for (const block of Array.from(document.querySelectorAll('script.' + cls))) {
      const part = JSON.parse(block.textContent)
      for (let i = 0; i < part.length; i++) out.push(part[i])
      block.remove()
    }
    return out
  }
  const t0 = performance.now()
  const facts = JSON.parse($('er-facts').textContent)
  $('er-facts').remove()
  const output = read('er-output')
  const entries = read('er-timeline')

  const clock = (ms) => {
    const s = Math.floor(ms / 1000)
    const h = Math.floor(s / 3600)
    const m = Math.floor((s % 3600) / 60)
    const pad = (n, w) => String(n).padStart(w, '0')
    return (h > 0 ? h + ':' + pad(m, 2) : String(m)) + ':' + pad(s % 60, 2) + '.' + pad(Math.floor(ms % 1000), 3)
  }

  // ---- facts
  const dl = $('facts')
  for (const [name, value, cls] of facts.list) {
    const row = el('div', 'fact' + (cls ? ' ' + cls : ''))
    row.append(el('dt', '', name), el('dd', '', value))
    dl.append(row)
  }

  // ---- player
  let player
  let speed = 1
  const rec = {cols: facts.width, rows: facts.height, events: output}
  const markers = entries.length <= 500 ? entries.filter((e) => e[1] === 'command').map((e) => [e[0] / 1000, e[3].slice(0, 80)]) : []
  const create = (startAt, autoPlay) => {
    player = AsciinemaPlayer.create({data: () => rec, parser: (d) => d}, $('player'), {
      cols: facts.width,
      rows: facts.height,
      startAt,
      autoPlay,
      speed,
      fit: 'width',
      terminalFontSize: '14px',
      markers,
      preload: true,
    })
    player.addEventListener('play', () => ($('play').textContent = 'Pause'))
    player.addEventListener('playing', () => ($('play').textContent = 'Pause'))
    player.addEventListener('pause', () => ($('play').textContent = 'Play'))
    player.addEventListener('ended', () => ($('play').textContent = 'Play'))
  }
  create(0, false)
  $('play').addEventListener('click', () => {
    document.body.classList.add('positioned')
    if ($('play').textContent === 'Play') player.play()
    else player.pause()
  })
  $('speed').addEventListener('change', () => {
    speed = Number($('speed').value)
    const at = player.getCurrentTime() || 0
    const wasPlaying = $('play').textContent === 'Pause'
    player.dispose()
    $('player').replaceChildren()
    create(at, wasPlaying)
  })

  // ---- timeline: a virtual list (only the rows in view exist), filtered by kind and search
  const ROW = 24
  const list = $('tl-list')
  const spacer = $('tl-spacer')
  const rows = $('tl-rows')
  let shown = entries.map((_, i) => i)
  let current = -1
  const haystack = new Array(entries.length)
  const matches = (i, q, kind) => {
    const e = entries[i]
    if (kind === 'denied') {
      if (!(e[4] & 1)) return false
    } else if (kind !== 'all' && e[1] !== kind) return false
    if (q === '') return true
    if (haystack[i] === undefined) haystack[i] = (e[1] + ' ' + e[2] + ' ' + e[3]).toLowerCase()
    return haystack[i].includes(q)
  }
  const render = () => {
    spacer.style.height = shown.length * ROW + 'px'
    const first = Math.max(0, Math.floor(list.scrollTop / ROW) - 10)
    const last = Math.min(shown.length, first + Math.ceil(list.clientHeight / ROW) + 20)
    const frag = document.createDocumentFragment()
    for (let k = first; k < last; k++) {
      const i = shown[k]
      const e = entries[i]
      const row = el('div', 'tl-row kind-' + e[1] + (e[4] & 1 ? ' denied' : '') + (e[4] & 2 ? ' failed' : '') + (i === current ? ' current' : ''))
      row.style.top = k * ROW + 'px'
      row.dataset.index = String(i)
      row.setAttribute('role', 'button')
      row.tabIndex = 0
      row.title = e[3]
      row.append(el('span', 'tl-time', clock(e[0])), el('span', 'tl-kind', e[4] & 1 ? 'denied' : e[1]), el('span', 'tl-prog', e[2]), el('span', 'tl-text', e[3]))
      frag.append(row)
    }
    rows.replaceChildren(frag)
    $('tl-count').textContent = shown.length === entries.length ? entries.length + ' events' : shown.length + ' of ' + entries.length + ' events'
  }
  const refilter = () => {
    const q = $('search').value.trim().toLowerCase()
    const kind = $('kind').value
    shown = []
    for (let i = 0; i < entries.length; i++) if (matches(i, q, kind)) shown.push(i)
    list.scrollTop = 0
    render()
  }
  const seekTo = async (i) => {
    current = i
    await player.pause()
    await player.seek(entries[i][0] / 1000)
    render()
    document.body.dataset.seeked = String(entries[i][0])
    document.body.classList.add('positioned')
  }
  rows.addEventListener('click', (ev) => {
    const row = ev.target.closest('.tl-row')
    if (row) seekTo(Number(row.dataset.index))
  })
  rows.addEventListener('keydown', (ev) => {
    const row = ev.target.closest('.tl-row')
    if (row && (ev.key === 'Enter' || ev.key === ' ')) {
      ev.preventDefault()
      seekTo(Number(row.dataset.index))
    }
  })
  list.addEventListener('scroll', () => requestAnimationFrame(render))
  $('search').addEventListener('input', refilter)
  $('kind').addEventListener('change', refilter)
  document.addEventListener('keydown', (ev) => {
    if (ev.key === '/' && document.activeElement !== $('search')) {
      ev.preventDefault()
      $('search').focus()
    }
  })
  // Follow the playback: mark the last event at or before the player's time.
  setInterval(() => {
    const ms = (player.getCurrentTime() || 0) * 1000
    let lo = 0
    let hi = entries.length - 1
    let found = -1
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      if (entries[mid][0] <= ms) {
        found = mid
        lo = mid + 1
      } else hi = mid - 1
    }
    if (found !== current && $('play').textContent === 'Pause') {
      current = found
      render()
    }
  }, 250)
  render()
  document.body.dataset.ready = String(Math.round(performance.now() - t0))
  // When the player has taken the recording in (ms since the page began loading).
  const loaded = setInterval(() => {
    if (player.getDuration() === undefined) return
    clearInterval(loaded)
    document.body.dataset.loaded = String(Math.round(performance.now()))
  }, 20)
})()
`
