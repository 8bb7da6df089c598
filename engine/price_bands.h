// Price bands: how the alert monitor (alerts.h) groups the max prices of
// pledges and the floors of offers when it bounds how far a cell's demand
// can have moved, and the churn of pledges kept by band.
//
// Bands are sixteenths of an octave: band 16o + q holds the prices in
// [2^o (1 + q/16), 2^o (1 + (q+1)/16)) from 16 fen up, about 6% of a price
// wide; a price p under 16 fen is band p (0 for none or less); prices past
// kMaxPriceFenPerKg (2^30), which no accepted order has, share the last
// band. BandOf never decreases as the price grows.
#ifndef DUIJIE_ENGINE_PRICE_BANDS_H_
#define DUIJIE_ENGINE_PRICE_BANDS_H_

#include <algorithm>
#include <array>
#include <cstdint>

namespace duijie {

inline constexpr int kPriceBandBits = 4;  // log2 of the bands per octave
inline constexpr int kPriceBands = 31 << kPriceBandBits;
inline constexpr int kPriceBandWords = (kPriceBands + 63) / 64;

// A product's pledges bid within a few tenths of its price, and resting
// ones mostly below the floors of resting offers: wider bands (quarter
// octaves before) put most of them in the band of floors they cannot
// reach, and nine wake-ups in ten found the woken cell's demand unmoved.
inline int PriceBandOf(int64_t price) {
  constexpr int64_t kPerOctave = int64_t{1} << kPriceBandBits;
  if (price < kPerOctave) return price < 0 ? 0 : static_cast<int>(price);
  const int octave = 63 - __builtin_clzll(static_cast<uint64_t>(price));
  const int band =
      (octave << kPriceBandBits) +
      static_cast<int>((price >> (octave - kPriceBandBits)) & (kPerOctave - 1));
  return std::min(band, kPriceBands - 1);
}

// Kg moved at or above each band, in two levels so that adding touches at
// most 31 + 16 counters and a read two: `within[b]` holds what was added at
// b and the bands above it in its octave (its block of 16 bands),
// `octaves[o]` what was added in octaves o and above.
struct PriceBandChurn {
  std::array<int64_t, kPriceBands> within = {};
  std::array<int64_t, (kPriceBands >> kPriceBandBits) + 1> octaves = {};

  void Add(int band, int64_t kg) {
    const int octave = band >> kPriceBandBits;
    for (int b = octave << kPriceBandBits; b <= band; ++b) within[b] += kg;
    for (int o = 0; o <= octave; ++o) octaves[o] += kg;
  }
  // The kg added at `band` and above.
  int64_t AtOrAbove(int band) const {
    return within[band] + octaves[(band >> kPriceBandBits) + 1];
  }
};

}  // namespace duijie

#endif  // DUIJIE_ENGINE_PRICE_BANDS_H_
