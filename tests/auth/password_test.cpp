// Passwords: the rules for a new one, argon2id hashes, verification, rehash and the dummy hash.
#include <gtest/gtest.h>
#include <sodium.h>

#include <array>
#include <stdexcept>
#include <string>

#include "auth/password.hpp"
#include "auth/sodium.hpp"

namespace parley::auth {
namespace {

// libsodium's minimum cost: the tests hash dozens of times.
const PasswordParams kFast{crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};

std::string repeat(std::string_view s, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += s;
  return out;
}

TEST(PasswordRules, EightCodePointsIsTheMinimum) {
  EXPECT_EQ(check_password(""), PasswordProblem::too_short);
  EXPECT_EQ(check_password("1234567"), PasswordProblem::too_short);
  EXPECT_EQ(check_password("12345678"), PasswordProblem::none);
}

TEST(PasswordRules, MultiByteCharactersCountOnce) {
  EXPECT_EQ(check_password("pässwör"), PasswordProblem::too_short) << "7 code points in 9 bytes";
  EXPECT_EQ(check_password("pässwörd"), PasswordProblem::none) << "8 code points in 10 bytes";
  const std::string emoji = "\xF0\x9F\x94\x91";  // U+1F511, four bytes
  EXPECT_EQ(check_password(repeat(emoji, 7)), PasswordProblem::too_short) << "28 bytes, 7 code points";
  EXPECT_EQ(check_password(repeat(emoji, 8)), PasswordProblem::none);
}

TEST(PasswordRules, InvalidUtf8IsCountedInBytes) {
  EXPECT_EQ(check_password(std::string(7, '\xFF')), PasswordProblem::too_short);
  EXPECT_EQ(check_password(std::string(8, '\xFF')), PasswordProblem::none);
  // Three "é" and a stray 0xFF: 4 code points' worth, but invalid, so 7 bytes, then 8.
  const std::string invalid = repeat("\xC3\xA9", 3) + "\xFF";
  EXPECT_EQ(check_password(invalid), PasswordProblem::too_short);
  EXPECT_EQ(check_password(invalid + "a"), PasswordProblem::none);
}

TEST(PasswordRules, AtMost1024Bytes) {
  EXPECT_EQ(check_password(std::string(1024, 'a')), PasswordProblem::none);
  EXPECT_EQ(check_password(std::string(1025, 'a')), PasswordProblem::too_long);
  EXPECT_EQ(check_password(repeat("\xC3\xA9", 512)), PasswordProblem::none) << "1024 bytes, 512 code points";
  EXPECT_EQ(check_password(repeat("\xC3\xA9", 513)), PasswordProblem::too_long) << "bytes count, not code points";
}

TEST(PasswordParams, DefaultsAreLibsodiumsInteractiveLimits) {
  const PasswordParams p;
  EXPECT_EQ(p.opslimit, crypto_pwhash_OPSLIMIT_INTERACTIVE);
  EXPECT_EQ(p.memlimit, crypto_pwhash_MEMLIMIT_INTERACTIVE);
  EXPECT_NO_THROW(p.validate());
  EXPECT_NO_THROW(kFast.validate());
}

TEST(PasswordParams, OutOfRangeThrows) {
  EXPECT_THROW((PasswordParams{crypto_pwhash_OPSLIMIT_MIN - 1, crypto_pwhash_MEMLIMIT_MIN}.validate()),
               std::invalid_argument);
  EXPECT_THROW((PasswordParams{crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN - 1}.validate()),
               std::invalid_argument);
  EXPECT_THROW((PasswordParams{2, PasswordParams::max_memlimit + 1}.validate()), std::invalid_argument);
  EXPECT_NO_THROW((PasswordParams{2, PasswordParams::max_memlimit}.validate()));
  EXPECT_THROW(hash_password("correct horse", PasswordParams{0, crypto_pwhash_MEMLIMIT_MIN}), std::invalid_argument)
      << "hash_password checks the params too";
}

TEST(PasswordHash, VerifiesTheRightPasswordOnly) {
  const std::string encoded = hash_password("correct horse", kFast);
  EXPECT_TRUE(encoded.starts_with("$argon2id$v=19$")) << encoded;
  EXPECT_TRUE(verify_password(encoded, "correct horse"));
  EXPECT_FALSE(verify_password(encoded, "correct hors"));
  EXPECT_FALSE(verify_password(encoded, "correct horse "));
  EXPECT_FALSE(verify_password(encoded, "Correct horse"));
  EXPECT_FALSE(verify_password(encoded, ""));
}

TEST(PasswordHash, TheSamePasswordHashesDifferentlyEachTime) {
  const std::string a = hash_password("correct horse", kFast);
  const std::string b = hash_password("correct horse", kFast);
  EXPECT_NE(a, b) << "a random salt each time";
  EXPECT_TRUE(verify_password(a, "correct horse"));
  EXPECT_TRUE(verify_password(b, "correct horse"));
}

TEST(PasswordHash, PasswordsAreBytesNulIncluded) {
  const std::string with_nul("correct\0horse", 13);
  const std::string encoded = hash_password(with_nul, kFast);
  EXPECT_TRUE(verify_password(encoded, with_nul));
  EXPECT_FALSE(verify_password(encoded, "correct")) << "the NUL does not end the password";
}

TEST(PasswordHash, AChangedByteOfTheHashFails) {
  const std::string encoded = hash_password("correct horse", kFast);
  // "$argon2id$v=19$m=8,t=1,p=1$<salt>$<hash>": change one char of the hash, then of the salt.
  const std::size_t hash_at = encoded.rfind('$') + 5;
  const std::size_t salt_at = encoded.rfind('$', encoded.rfind('$') - 1) + 5;
  for (const std::size_t at : {hash_at, salt_at}) {
    std::string changed = encoded;
    changed[at] = changed[at] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(verify_password(changed, "correct horse")) << changed;
  }
  std::string cheaper = encoded;
  cheaper.replace(cheaper.find("t=1"), 3, "t=2");
  EXPECT_FALSE(verify_password(cheaper, "correct horse")) << "the params are part of what is verified";
}

TEST(PasswordHash, MalformedEncodedStringsFailWithoutThrowing) {
  const std::string encoded = hash_password("correct horse", kFast);
  for (const std::string& bad :
       {std::string(), std::string("correct horse"), std::string("$argon2id$"), encoded.substr(0, encoded.size() / 2),
        encoded + "$", std::string(500, 'x'), encoded + std::string(1, '\0') + "tail",
        std::string("$argon2id$v=19$m=8,t=1,p=1$$")}) {
    EXPECT_FALSE(verify_password(bad, "correct horse")) << bad;
  }
}

TEST(PasswordHash, OverlongPasswordsAreNeitherHashedNorVerified) {
  const std::string long_password(max_password_bytes + 1, 'a');
  EXPECT_THROW(hash_password(long_password, kFast), std::invalid_argument);
  const std::string encoded = hash_password(long_password.substr(0, max_password_bytes), kFast);
  EXPECT_TRUE(verify_password(encoded, long_password.substr(0, max_password_bytes)));
  EXPECT_FALSE(verify_password(encoded, long_password));
}

TEST(PasswordHash, TheDefaultParams) {
  const PasswordParams defaults;
  const std::string encoded = hash_password("correct horse", defaults);
  EXPECT_TRUE(encoded.starts_with("$argon2id$v=19$m=65536,t=2,p=1$")) << encoded;
  EXPECT_TRUE(verify_password(encoded, "correct horse"));
  EXPECT_FALSE(verify_password(encoded, "wrong horse"));
  EXPECT_FALSE(needs_rehash(encoded, defaults));
}

TEST(PasswordRehash, OnlyWhenTheParamsOrAlgorithmDiffer) {
  const std::string encoded = hash_password("correct horse", kFast);
  EXPECT_FALSE(needs_rehash(encoded, kFast));
  EXPECT_TRUE(needs_rehash(encoded, PasswordParams{kFast.opslimit + 1, kFast.memlimit}));
  EXPECT_TRUE(needs_rehash(encoded, PasswordParams{kFast.opslimit, kFast.memlimit * 2}));
  EXPECT_TRUE(needs_rehash(encoded, PasswordParams{}));
  EXPECT_TRUE(needs_rehash("", kFast));
  EXPECT_TRUE(needs_rehash("garbage", kFast));

  // An argon2i hash (an older algorithm) with the very same params still needs a new hash.
  ensure_sodium();
  const PasswordParams argon2i_params{crypto_pwhash_argon2i_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
  std::array<char, crypto_pwhash_STRBYTES> out{};
  ASSERT_EQ(crypto_pwhash_str_alg(out.data(), "pw", 2, argon2i_params.opslimit, argon2i_params.memlimit,
                                  crypto_pwhash_ALG_ARGON2I13),
            0);
  const std::string argon2i(out.data());
  ASSERT_TRUE(argon2i.starts_with("$argon2i$")) << argon2i;
  EXPECT_TRUE(verify_password(argon2i, "pw")) << "an older hash still signs in";
  EXPECT_TRUE(needs_rehash(argon2i, argon2i_params));
}

TEST(DummyHash, IsMadeOnceAndMatchesNothing) {
  const std::string dummy = dummy_hash(kFast);
  EXPECT_EQ(dummy_hash(kFast), dummy) << "made once per params";
  EXPECT_TRUE(dummy.starts_with("$argon2id$"));
  EXPECT_FALSE(needs_rehash(dummy, kFast)) << "same params as a user's hash: same verification cost";
  for (const char* guess : {"", "password", "12345678", "correct horse"}) EXPECT_FALSE(verify_password(dummy, guess));

  const PasswordParams other{kFast.opslimit + 1, kFast.memlimit};
  const std::string dummy_other = dummy_hash(other);
  EXPECT_NE(dummy_other, dummy);
  EXPECT_FALSE(needs_rehash(dummy_other, other)) << "each params has a dummy of its own";
}

}  // namespace
}  // namespace parley::auth
