// Periods of standing pledges, by the calendar of Asia/Shanghai.
//
// China has kept UTC+8 all year since 1991, so a fixed offset is exact for
// every time the engine sees, and the engine needs no time zone database
// (nor its locks). Days start at 00:00, weeks on Monday, months on the 1st.
#ifndef DUIJIE_ENGINE_PERIODS_H_
#define DUIJIE_ENGINE_PERIODS_H_

#include <cstdint>

#include "engine/types.h"

namespace duijie {

// How often a standing pledge starts a new period. The numbers are the
// journal's and the state's (and the proto's Period).
enum class Period : uint8_t {
  kNone = 0,  // a one-off pledge
  kDaily = 1,
  kWeekly = 2,
  kMonthly = 3,
};
inline constexpr int kMaxPeriod = 3;

// A civil date in Asia/Shanghai.
struct ShanghaiDate {
  int64_t year = 0;
  int month = 0;  // 1..12
  int day = 0;    // 1..31
};
ShanghaiDate ShanghaiDateOf(Micros at);

// The ISO 8601 week of the Asia/Shanghai day of `at`: weeks start on
// Monday, and week 1 of a year is the week holding its first Thursday, so
// the last days of December may fall in week 1 of the next year and the
// first days of January in week 52 or 53 of the year before.
struct IsoWeek {
  int64_t year = 0;  // the ISO week-numbering year
  int week = 0;      // 1..53
};
IsoWeek ShanghaiIsoWeekOf(Micros at);

// The start of the period of kind `period` (not kNone) that holds `at`,
// and the start of the next one.
Micros PeriodStartAt(Period period, Micros at);
Micros NextPeriodStart(Period period, Micros at);

}  // namespace duijie

#endif  // DUIJIE_ENGINE_PERIODS_H_
