// ByteWriter and ByteReader: the little-endian, length-prefixed binary
// encoding shared by the engine's saved state and the server's journal.
//
// Integers are fixed-width little-endian; strings are a u32 length and the
// bytes. ByteReader checks every read against the end of its input: after
// the first read past it (or a malformed bool) every read returns zero and
// ok() is false, so a decoder can read a whole record and check once.
#ifndef DUIJIE_ENGINE_BYTE_CODEC_H_
#define DUIJIE_ENGINE_BYTE_CODEC_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace duijie {

class ByteWriter {
 public:
  // Appends to *out, which must outlive the writer.
  explicit ByteWriter(std::string* out) : out_(out) {}
  void U8(uint8_t v) { out_->push_back(static_cast<char>(v)); }
  void U32(uint32_t v) { Fixed(v, 4); }
  void U64(uint64_t v) { Fixed(v, 8); }
  void I64(int64_t v) { U64(static_cast<uint64_t>(v)); }
  void Bool(bool v) { U8(v ? 1 : 0); }
  void Str(std::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    out_->append(s.data(), s.size());
  }

 private:
  void Fixed(uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) {
      out_->push_back(static_cast<char>(v >> (8 * i)));
    }
  }
  std::string* out_;
};

class ByteReader {
 public:
  // Reads from `in`, which must outlive the reader.
  explicit ByteReader(std::string_view in) : in_(in) {}
  uint8_t U8() { return Need(1) ? static_cast<uint8_t>(in_[pos_++]) : 0; }
  uint32_t U32() { return static_cast<uint32_t>(Fixed(4)); }
  uint64_t U64() { return Fixed(8); }
  int64_t I64() { return static_cast<int64_t>(U64()); }
  bool Bool() {
    const uint8_t v = U8();
    if (v > 1) ok_ = false;
    return v == 1;
  }
  std::string Str() {
    const uint32_t n = U32();
    if (!Need(n)) return {};
    std::string s(in_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  // A count of items each at least `min_bytes` long, checked against what
  // is left so that a corrupt count cannot ask for an absurd allocation.
  uint64_t Count(uint64_t min_bytes) {
    const uint64_t n = U64();
    if (ok_ && n > (in_.size() - pos_) / min_bytes) ok_ = false;
    return ok_ ? n : 0;
  }
  bool ok() const { return ok_; }
  bool done() const { return pos_ == in_.size(); }
  size_t pos() const { return pos_; }

 private:
  bool Need(uint64_t n) {
    if (!ok_ || n > in_.size() - pos_) ok_ = false;
    return ok_;
  }
  uint64_t Fixed(int bytes) {
    if (!Need(bytes)) return 0;
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) {
      v |= uint64_t{static_cast<uint8_t>(in_[pos_ + i])} << (8 * i);
    }
    pos_ += bytes;
    return v;
  }
  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace duijie

#endif  // DUIJIE_ENGINE_BYTE_CODEC_H_
