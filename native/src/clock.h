// clock.h — the monotonic clock the addon's timings are measured with.
#pragma once
#include <chrono>

using Clock = std::chrono::steady_clock;

inline double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}
