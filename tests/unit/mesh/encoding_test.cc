// Encodings: RFC 4648 test vectors, round trips, and what the decoders refuse.
#include "gateway/util/encoding.h"

#include <gtest/gtest.h>

#include <random>

namespace meshgate {
namespace {

struct Rfc4648Vector {
  std::string data, base32, base64url;
};

TEST(Encoding, Rfc4648Vectors) {
  for (const Rfc4648Vector& v :
       {Rfc4648Vector{"", "", ""}, Rfc4648Vector{"f", "MY", "Zg"},
        Rfc4648Vector{"fo", "MZXQ", "Zm8"}, Rfc4648Vector{"foo", "MZXW6", "Zm9v"},
        Rfc4648Vector{"foob", "MZXW6YQ", "Zm9vYg"}, Rfc4648Vector{"fooba", "MZXW6YTB", "Zm9vYmE"},
        Rfc4648Vector{"foobar", "MZXW6YTBOI", "Zm9vYmFy"}}) {
    EXPECT_EQ(base32Encode(asBytes(v.data)), v.base32);
    EXPECT_EQ(base64UrlEncode(asBytes(v.data)), v.base64url);
    EXPECT_EQ(toString(base64UrlDecode(v.base64url).value()), v.data);
    EXPECT_EQ(toString(base32Decode(v.base32).value()), v.data);
  }
}

TEST(Encoding, Base64UrlUsesTheUrlAlphabetAndAcceptsTheStandardOne) {
  Bytes b = {0xFB, 0xFF, 0xBF};
  EXPECT_EQ(base64UrlEncode(b), "-_-_");
  EXPECT_EQ(base64UrlDecode("+/+/").value(), b);
  EXPECT_EQ(base64UrlDecode("-_-_").value(), b);
  EXPECT_EQ(base64UrlDecode("Zg==").value(), toBytes("f"));
  EXPECT_EQ(base64UrlDecode("Zm8=").value(), toBytes("fo"));
}

TEST(Encoding, Base64UrlRefusesMalformedInput) {
  for (const char* bad : {"Z", "Zg=", "Zg===", "Z=g=", "Zm9v=", "Zh", "Zm9", "Zm!v", "Zm9v Yg",
                          "Zg==Zg==", "====", "Zm8\n"}) {
    auto r = base64UrlDecode(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), r.ok() ? StatusCode::kOk : StatusCode::kInvalidArgument);
  }
}

TEST(Encoding, Base32DecodesUdfPresentation) {
  EXPECT_EQ(base32Decode("mzxw-6ytb oi").value(), toBytes("foobar"));
  EXPECT_FALSE(base32Decode("MZXW1").ok());
  EXPECT_FALSE(base32Decode("MZXW=").ok());
}

TEST(Encoding, Hex) {
  EXPECT_EQ(hexEncode(Bytes{0x00, 0xAB, 0xff}), "00abff");
  EXPECT_EQ(hexDecode("00 AB ff").value(), (Bytes{0x00, 0xAB, 0xFF}));
  EXPECT_FALSE(hexDecode("abc").ok());
  EXPECT_FALSE(hexDecode("zz").ok());
}

TEST(Encoding, RandomRoundTrips) {
  std::mt19937 rng(42);
  for (size_t n = 0; n < 200; ++n) {
    Bytes b(n);
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    EXPECT_EQ(base64UrlDecode(base64UrlEncode(b)).value(), b) << n;
    EXPECT_EQ(hexDecode(hexEncode(b)).value(), b) << n;
    // Base32 returns whole bytes only; n bytes always come back whole.
    EXPECT_EQ(base32Decode(base32Encode(b)).value(), b) << n;
  }
}

}  // namespace
}  // namespace meshgate
