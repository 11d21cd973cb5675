// The page's own style sheet for `replay --format html` (the player brings its own).
export const PAGE_STYLE = `
:root { color-scheme: dark; --bg: #121314; --panel: #1c1d1f; --line: #2c2e31; --fg: #d8d8d8; --dim: #8a8d91; --accent: #6cb6ff; --bad: #ff7b72; --warn: #e3b341; }
* { box-sizing: border-box; }
html, body { margin: 0; height: 100%; background: var(--bg); color: var(--fg); font: 14px/1.4 system-ui, sans-serif; }
body { display: flex; flex-direction: column; }
header { padding: 8px 14px; border-bottom: 1px solid var(--line); }
header h1 { font-size: 15px; margin: 0 0 6px; font-weight: 600; }
#facts { display: flex; flex-wrap: wrap; gap: 4px 18px; margin: 0; }
.fact { display: flex; gap: 6px; }
.fact dt { color: var(--dim); }
.fact dd { margin: 0; font-family: ui-monospace, monospace; }
.fact.bad dd { color: var(--bad); }
.fact.warn dd { color: var(--warn); }
main { flex: 1; display: flex; min-height: 0; }
#left { flex: 1; min-width: 0; display: flex; flex-direction: column; padding: 10px; gap: 8px; }
#player { flex: 0 0 auto; }
#controls { display: flex; gap: 8px; align-items: center; }
.positioned .ap-overlay-start { display: none; }
button, select, input { background: var(--panel); color: var(--fg); border: 1px solid var(--line); border-radius: 4px; padding: 4px 8px; font: inherit; }
button:hover { border-color: var(--accent); }
aside { width: 46%; max-width: 720px; min-width: 320px; display: flex; flex-direction: column; border-left: 1px solid var(--line); }
#tl-tools { display: flex; gap: 6px; padding: 8px; border-bottom: 1px solid var(--line); align-items: center; }
#search { flex: 1; min-width: 0; }
#tl-count { color: var(--dim); font-size: 12px; white-space: nowrap; }
#tl-list { flex: 1; overflow-y: auto; position: relative; }
#tl-spacer { position: relative; }
#tl-rows { position: absolute; top: 0; left: 0; right: 0; }
.tl-row { position: absolute; left: 0; right: 0; height: 24px; display: flex; gap: 8px; align-items: center; padding: 0 8px; cursor: pointer; white-space: nowrap; overflow: hidden; font-family: ui-monospace, monospace; font-size: 12.5px; border-bottom: 1px solid #18191b; }
.tl-row:hover, .tl-row:focus { background: #23262b; outline: none; }
.tl-row.current { background: #1d3049; }
.tl-time { color: var(--dim); flex: 0 0 78px; text-align: right; }
.tl-kind { flex: 0 0 62px; color: var(--accent); }
.kind-network .tl-kind { color: #a5d6ff; }
.kind-disk .tl-kind { color: #b4a7f5; }
.kind-cgroup_escape .tl-kind, .failed .tl-kind { color: var(--warn); }
.denied .tl-kind, .denied .tl-text { color: var(--bad); }
.tl-prog { flex: 0 0 110px; overflow: hidden; text-overflow: ellipsis; color: #c9d1d9; }
.tl-text { flex: 1; overflow: hidden; text-overflow: ellipsis; }
`
