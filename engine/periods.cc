// Periods. See periods.h.
#include "engine/periods.h"

namespace duijie {
namespace {

constexpr Micros kMicrosPerDay = Micros{86400} * 1000 * 1000;
constexpr Micros kShanghaiOffset = Micros{8} * 3600 * 1000 * 1000;

// Days since 1970-01-01 in Shanghai, rounded towards minus infinity.
int64_t ShanghaiDay(Micros at) {
  const Micros local = at + kShanghaiOffset;  // at is a Timestamp: no overflow
  int64_t days = local / kMicrosPerDay;
  if (local % kMicrosPerDay < 0) --days;
  return days;
}

// The UTC time at which Shanghai day `days` starts.
Micros DayStart(int64_t days) { return days * kMicrosPerDay - kShanghaiOffset; }

// H. Hinnant's civil_from_days and days_from_civil (proleptic Gregorian).
ShanghaiDate CivilFromDays(int64_t days) {
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  return ShanghaiDate{yoe + era * 400 + (month <= 2 ? 1 : 0),
                      static_cast<int>(month),
                      static_cast<int>(doy - (153 * mp + 2) / 5 + 1)};
}

int64_t DaysFromCivil(int64_t year, int month, int day) {
  year -= month <= 2 ? 1 : 0;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const int64_t yoe = year - era * 400;
  const int64_t mp = month > 2 ? month - 3 : month + 9;
  const int64_t doy = (153 * mp + 2) / 5 + day - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// The first day of the period holding Shanghai day `days`, and the first
// day of the next one.
void PeriodDays(Period period, int64_t days, int64_t* first, int64_t* next) {
  switch (period) {
    case Period::kWeekly: {
      // 1970-01-01 was a Thursday: Monday-based weekday 3.
      int64_t weekday = (days + 3) % 7;
      if (weekday < 0) weekday += 7;
      *first = days - weekday;
      *next = *first + 7;
      return;
    }
    case Period::kMonthly: {
      const ShanghaiDate d = CivilFromDays(days);
      *first = DaysFromCivil(d.year, d.month, 1);
      *next = d.month == 12 ? DaysFromCivil(d.year + 1, 1, 1)
                            : DaysFromCivil(d.year, d.month + 1, 1);
      return;
    }
    default:  // kDaily (kNone is not a period; callers never pass it)
      *first = days;
      *next = days + 1;
  }
}

}  // namespace

ShanghaiDate ShanghaiDateOf(Micros at) {
  return CivilFromDays(ShanghaiDay(at));
}

IsoWeek ShanghaiIsoWeekOf(Micros at) {
  const int64_t days = ShanghaiDay(at);
  int64_t weekday = (days + 3) % 7;  // Monday 0, as PeriodDays
  if (weekday < 0) weekday += 7;
  // The week belongs to the year of its Thursday.
  const int64_t thursday = days - weekday + 3;
  const ShanghaiDate d = CivilFromDays(thursday);
  return IsoWeek{d.year, static_cast<int>(
                             (thursday - DaysFromCivil(d.year, 1, 1)) / 7 + 1)};
}

Micros PeriodStartAt(Period period, Micros at) {
  int64_t first, next;
  PeriodDays(period, ShanghaiDay(at), &first, &next);
  return DayStart(first);
}

Micros NextPeriodStart(Period period, Micros at) {
  int64_t first, next;
  PeriodDays(period, ShanghaiDay(at), &first, &next);
  return DayStart(next);
}

}  // namespace duijie
