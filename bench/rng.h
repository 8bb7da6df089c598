// Rng: the seeded randomness of the workload generators (the standard
// workload and the glut-week scenarios).
//
// mt19937_64's output is fixed by the standard; everything built on it here
// is integer arithmetic or IEEE-exact double operations (+, *, sqrt), so a
// seed gives the same records everywhere. std:: distributions are never
// used: their output is implementation-defined.
#ifndef DUIJIE_BENCH_RNG_H_
#define DUIJIE_BENCH_RNG_H_

#include <algorithm>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace duijie {
namespace bench {

class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}
  // Uniform in [0, n), n > 0, unbiased (rejects the short last stripe).
  uint64_t Below(uint64_t n) {
    const uint64_t threshold = (0 - n) % n;  // 2^64 mod n
    uint64_t x;
    do {
      x = gen_();
    } while (x < threshold);
    return x % n;
  }
  // Uniform in [lo, hi], lo <= hi.
  int64_t Range(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Below(static_cast<uint64_t>(hi - lo) + 1));
  }
  // True with probability percent / 100.
  bool Percent(int percent) {
    return Below(100) < static_cast<uint64_t>(percent);
  }
  // Uniform in [0, 1), 53 bits.
  double Unit() { return static_cast<double>(gen_() >> 11) * 0x1.0p-53; }
  // Index drawn with probability weights[i] / sum(weights).
  size_t Weighted(const std::vector<int64_t>& cumulative) {
    const int64_t r = static_cast<int64_t>(Below(cumulative.back()));
    return std::upper_bound(cumulative.begin(), cumulative.end(), r) -
           cumulative.begin();
  }
  template <typename T>
  void Shuffle(std::vector<T>* v) {
    for (size_t i = v->size(); i > 1; --i)
      std::swap((*v)[i - 1], (*v)[Below(i)]);
  }

 private:
  std::mt19937_64 gen_;
};

// Running sums of `weights`, for Rng::Weighted.
inline std::vector<int64_t> Cumulative(const std::vector<int64_t>& weights) {
  std::vector<int64_t> out;
  int64_t sum = 0;
  for (int64_t w : weights) out.push_back(sum += w);
  return out;
}

}  // namespace bench
}  // namespace duijie

#endif  // DUIJIE_BENCH_RNG_H_
