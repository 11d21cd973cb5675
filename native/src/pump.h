// pump.h — the session terminal's output path. A thread copies the pty master to the operator's
// screen as script(1) does (no JS on that path), writes live lines where the screen is at a line
// start, and hands the same bytes to JS in batches for the recording:
//
//   new Pump({masterFd, outFd, lineFd?}, onOutput(bytes: Buffer, timeMs: number), onEnd(error?))
//     .pause() / .resume()   the recording is behind / caught up (the master is not read meanwhile)
//     .line(text)            a live line for lineFd, at the next line start (or after 1 s)
//     .finish()              the session program exited: read what is left, then onEnd()
//     .stop()                end the thread now and join it
//
// Memory is bounded: at most 8 MiB read and not yet taken by JS; past that the session's output
// waits in the terminal. onEnd comes after the last onOutput, once.
#pragma once
#include <napi.h>

void InitPump(Napi::Env env, Napi::Object exports);
