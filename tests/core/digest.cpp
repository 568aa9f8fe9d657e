// SPDX-License-Identifier: MIT
#define CAF_SUITE core.digest
#include "core/digest.hpp"

#include "core/strings.hpp"

#include <caf/test/unit_test.hpp>

#include <cctype>
#include <chrono>
#include <map>
#include <string>

using namespace regcore::core;
using std::chrono::seconds;

namespace {

const time_point t0{std::chrono::hours{1000}};

std::string quote(const std::string& x) {
  std::string out = "\"";
  for (char c : x) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out + '"';
}

/// The parameters of a challenge (or credentials), names lower-cased.
std::map<std::string, std::string> params_of(const std::string& value) {
  std::map<std::string, std::string> out;
  auto ps = parse_digest_params(value);
  CAF_REQUIRE(ps.has_value());
  for (auto& p : *ps)
    out[to_lower(p.name)] = p.value;
  return out;
}

/// What a UA puts into its Authorization header.
struct request {
  std::string user = "alice";
  std::string password = "wonderland";
  std::string realm = "example.com";
  std::string nonce;
  std::string opaque;
  std::string nc = "00000001";
  std::string cnonce = "0a4f113b";
  std::string qop = "auth";
  std::string method = "REGISTER";
  std::string uri = "sip:example.com";
  digest_algorithm alg = digest_algorithm::sha256;
  bool send_algorithm = true;
};

/// A UA answering `challenge` (one WWW-Authenticate value).
request answer(const std::string& challenge) {
  auto p = params_of(challenge);
  request r;
  r.realm = p["realm"];
  r.nonce = p["nonce"];
  r.opaque = p["opaque"];
  auto alg = parse_digest_algorithm(p["algorithm"]);
  CAF_REQUIRE(alg.has_value());
  r.alg = *alg;
  return r;
}

std::string authorization(const request& r) {
  auto ha1 = digest_ha1(r.alg, r.user, r.realm, r.password);
  auto response = digest_response(r.alg, ha1, r.nonce, r.nc, r.cnonce, r.qop,
                                  r.method, r.uri);
  std::string x = "Digest username=" + quote(r.user)
                  + ", realm=" + quote(r.realm) + ", nonce=" + quote(r.nonce)
                  + ", uri=" + quote(r.uri) + ", response=\"" + response + '"';
  if (r.send_algorithm)
    x += std::string{", algorithm="} + to_string(r.alg);
  if (!r.qop.empty())
    x += ", qop=" + r.qop + ", nc=" + r.nc + ", cnonce=" + quote(r.cnonce);
  if (!r.opaque.empty())
    x += ", opaque=" + quote(r.opaque);
  return x;
}

std::string parse_error(std::string_view value) {
  auto x = parse_digest_credentials(value);
  if (x.has_value())
    return "<parsed>";
  if (x.err().code != errc::bad_request)
    return "<wrong errc>";
  return std::string{x.err().phrase()};
}

std::string file_error(std::string_view text) {
  auto x = parse_credentials(text);
  if (x.has_value())
    return "<parsed>";
  if (x.err().code != errc::invalid_input)
    return "<wrong errc>";
  return std::string{x.err().phrase()};
}

digest_settings default_settings() {
  digest_settings cfg;
  cfg.realm = "example.com";
  cfg.secret = "0123456789abcdef-test-secret";
  return cfg;
}

digest_authenticator make_auth(digest_settings cfg = default_settings()) {
  auto x = digest_authenticator::make(std::move(cfg));
  CAF_REQUIRE(x.has_value());
  return std::move(x).value();
}

struct fixture {
  credential_store store;
  digest_authenticator auth = make_auth();

  fixture() {
    for (auto alg : {digest_algorithm::md5, digest_algorithm::sha256}) {
      auto ha1 = digest_ha1(alg, "alice", "example.com", "wonderland");
      CAF_REQUIRE(store.add("alice", "example.com", alg, ha1).has_value());
    }
    auto bob = digest_ha1(digest_algorithm::md5, "bob", "example.com", "pw");
    CAF_REQUIRE(store.add("bob", "example.com", digest_algorithm::md5, bob)
                    .has_value());
  }

  /// A request answering the first (SHA-256) challenge issued at `t`.
  request fresh(time_point t = t0, size_t which = 0) {
    auto cs = auth.challenge(t, false);
    CAF_REQUIRE(cs.size() > which);
    return answer(cs[which]);
  }

  digest_status check(const request& r, time_point t = t0) {
    return auth.verify(r.method, authorization(r), store, t).status;
  }
};

} // namespace

// --- algorithms and the RFC examples ---------------------------------------

CAF_TEST(algorithm names) {
  CAF_CHECK_EQUAL(to_string(digest_algorithm::md5), std::string{"MD5"});
  CAF_CHECK_EQUAL(to_string(digest_algorithm::sha256), std::string{"SHA-256"});
  CAF_CHECK(parse_digest_algorithm("MD5") == digest_algorithm::md5);
  CAF_CHECK(parse_digest_algorithm("md5") == digest_algorithm::md5);
  CAF_CHECK(parse_digest_algorithm("SHA-256") == digest_algorithm::sha256);
  CAF_CHECK(parse_digest_algorithm("sha-256") == digest_algorithm::sha256);
  CAF_CHECK(!parse_digest_algorithm("MD5-sess"));
  CAF_CHECK(!parse_digest_algorithm("SHA-512-256"));
  CAF_CHECK(!parse_digest_algorithm("SHA256"));
  CAF_CHECK(!parse_digest_algorithm(""));
}

CAF_TEST(rfc 2617 section 3.5 example) {
  // As in the RFC, with folded lines (LWS).
  auto value = "Digest username=\"Mufasa\",\r\n"
               "     realm=\"testrealm@host.com\",\r\n"
               "     nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\",\r\n"
               "     uri=\"/dir/index.html\",\r\n"
               "     qop=auth,\r\n"
               "     nc=00000001,\r\n"
               "     cnonce=\"0a4f113b\",\r\n"
               "     response=\"6629fae49393a05397450978507c4ef1\",\r\n"
               "     opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
  auto cr = parse_digest_credentials(value);
  CAF_REQUIRE(cr.has_value());
  CAF_CHECK_EQUAL(cr->username, "Mufasa");
  CAF_CHECK_EQUAL(cr->realm, "testrealm@host.com");
  CAF_CHECK_EQUAL(cr->nonce, "dcd98b7102dd2f0e8b11d0f600bfb0c093");
  CAF_CHECK_EQUAL(cr->uri, "/dir/index.html");
  CAF_CHECK_EQUAL(cr->qop, "auth");
  CAF_CHECK_EQUAL(cr->nc, "00000001");
  CAF_CHECK_EQUAL(cr->nc_value, 1u);
  CAF_CHECK_EQUAL(cr->cnonce, "0a4f113b");
  CAF_CHECK_EQUAL(cr->opaque, "5ccc069c403ebaf9f0171e9517f40e41");
  CAF_CHECK_EQUAL(cr->algorithm, "");
  auto ha1 = digest_ha1(digest_algorithm::md5, "Mufasa", "testrealm@host.com",
                        "Circle Of Life");
  CAF_CHECK_EQUAL(ha1, "939e7578ed9e3c518a452acee763bce9");
  CAF_CHECK_EQUAL(digest_response(digest_algorithm::md5, ha1, cr->nonce, cr->nc,
                                  cr->cnonce, cr->qop, "GET", cr->uri),
                  "6629fae49393a05397450978507c4ef1");
  CAF_CHECK_EQUAL(cr->response, "6629fae49393a05397450978507c4ef1");
  // A wrong password or method gives another response.
  CAF_CHECK_NOT_EQUAL(digest_response(digest_algorithm::md5, ha1, cr->nonce,
                                      cr->nc, cr->cnonce, cr->qop, "POST",
                                      cr->uri),
                      "6629fae49393a05397450978507c4ef1");
}

CAF_TEST(rfc 7616 section 3.9.1 examples) {
  auto value = "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", "
               "uri=\"/dir/index.html\", algorithm=SHA-256, "
               "nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", "
               "nc=00000001, "
               "cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", "
               "qop=auth, "
               "response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697"
               "cf8db5856cb6c1\", "
               "opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
  auto cr = parse_digest_credentials(value);
  CAF_REQUIRE(cr.has_value());
  CAF_CHECK_EQUAL(cr->algorithm, "SHA-256");
  auto alg = parse_digest_algorithm(cr->algorithm);
  CAF_REQUIRE(alg == digest_algorithm::sha256);
  auto ha1 = digest_ha1(*alg, cr->username, cr->realm, "Circle of Life");
  auto response = digest_response(*alg, ha1, cr->nonce, cr->nc, cr->cnonce,
                                  cr->qop, "GET", cr->uri);
  CAF_CHECK_EQUAL(
      response,
      "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
  CAF_CHECK_EQUAL(response, cr->response);
  // The same request with MD5 (the RFC's first example).
  auto md5_ha1 = digest_ha1(digest_algorithm::md5, "Mufasa",
                            "http-auth@example.org", "Circle of Life");
  CAF_CHECK_EQUAL(digest_response(digest_algorithm::md5, md5_ha1, cr->nonce,
                                  cr->nc, cr->cnonce, cr->qop, "GET", cr->uri),
                  "8ca523f5e9506fed4657c9700eebdbec");
}

CAF_TEST(rfc 2069 response without qop) {
  auto ha1 = digest_ha1(digest_algorithm::md5, "Mufasa", "testrealm@host.com",
                        "Circle Of Life");
  // H(HA1:nonce:H(GET:/dir/index.html)), cross-checked with Python hashlib.
  CAF_CHECK_EQUAL(digest_response(digest_algorithm::md5, ha1,
                                  "dcd98b7102dd2f0e8b11d0f600bfb0c093", "", "",
                                  "", "GET", "/dir/index.html"),
                  "670fd8c2df070c60b045671b8b24ff02");
}

// --- parsing ---------------------------------------------------------------

CAF_TEST(parsing is case insensitive and unescapes quoted strings) {
  auto cr = parse_digest_credentials(
      "  dIgEsT\tUserName=\"Mu\\\"fa\\\\sa\" ,REALM = \"r\",nonce=n,"
      "URI=\"sip:a@b;transport=tcp\" , response=\"ABC\", Algorithm=md5, "
      "QOP=auth, NC=0000000A, cnonce=\"c, with comma\", ext=\"x\", "
      "userhash=FALSE  ");
  CAF_REQUIRE(cr.has_value());
  CAF_CHECK_EQUAL(cr->username, "Mu\"fa\\sa");
  CAF_CHECK_EQUAL(cr->realm, "r");
  CAF_CHECK_EQUAL(cr->nonce, "n");
  CAF_CHECK_EQUAL(cr->uri, "sip:a@b;transport=tcp");
  CAF_CHECK_EQUAL(cr->response, "ABC");
  CAF_CHECK_EQUAL(cr->algorithm, "md5");
  CAF_CHECK_EQUAL(cr->qop, "auth");
  CAF_CHECK_EQUAL(cr->nc, "0000000A");
  CAF_CHECK_EQUAL(cr->nc_value, 10u);
  CAF_CHECK_EQUAL(cr->cnonce, "c, with comma");
  CAF_CHECK(!cr->userhash);
  // Quoted algorithm / qop / nc (seen in the wild) are accepted too.
  auto quoted = parse_digest_credentials(
      "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"u\", "
      "response=\"x\", algorithm=\"SHA-256\", qop=\"auth\", nc=\"ffffffff\", "
      "cnonce=\"c\", userhash=true");
  CAF_REQUIRE(quoted.has_value());
  CAF_CHECK_EQUAL(quoted->algorithm, "SHA-256");
  CAF_CHECK_EQUAL(quoted->nc_value, 0xffffffffu);
  CAF_CHECK(quoted->userhash);
}

CAF_TEST(parse errors name the problem) {
  CAF_CHECK_EQUAL(parse_error(""), "authentication scheme is not Digest");
  CAF_CHECK_EQUAL(parse_error("Basic QWxhZGRpbjpvcGVu"),
                  "authentication scheme is not Digest");
  CAF_CHECK_EQUAL(parse_error("Digestusername=\"a\""),
                  "authentication scheme is not Digest");
  CAF_CHECK_EQUAL(parse_error("Digest   "), "no digest parameters");
  CAF_CHECK_EQUAL(parse_error("Digest username"),
                  "expected '=' after username");
  CAF_CHECK_EQUAL(parse_error("Digest username=\"a"),
                  "unterminated quoted string in username");
  CAF_CHECK_EQUAL(parse_error("Digest username=\"a\\"),
                  "unterminated quoted string in username");
  CAF_CHECK_EQUAL(parse_error("Digest username=\"a\x01\""),
                  "control character in username");
  CAF_CHECK_EQUAL(parse_error("Digest username=\"a\", nc=, realm=\"r\""),
                  "missing value for nc");
  CAF_CHECK_EQUAL(parse_error("Digest uri=sip:a@b"), "expected ',' after uri");
  CAF_CHECK_EQUAL(parse_error("Digest username=\"a\" realm=\"r\""),
                  "expected ',' after username");
  CAF_CHECK_EQUAL(parse_error("Digest username=\"a\",,realm=\"r\""),
                  "expected a parameter name");
  CAF_CHECK_EQUAL(parse_error("Digest username=\"a\", "), "trailing comma");
  CAF_CHECK_EQUAL(parse_error("Digest realm=\"a\", REALM=\"b\""),
                  "duplicate parameter REALM");
  CAF_CHECK_EQUAL(parse_error("Digest x=1, x=2"), "duplicate parameter x");
  CAF_CHECK_EQUAL(
      parse_error("Digest username=\"" + std::string(9000, 'a') + "\""),
      "digest header value too long");
  std::string many = "Digest p0=0";
  for (int i = 1; i <= 32; ++i)
    many += ", p" + std::to_string(i) + "=0";
  CAF_CHECK_EQUAL(parse_error(many), "too many digest parameters");
}

CAF_TEST(missing or inconsistent parameters are rejected) {
  const std::map<std::string, std::string> all = {
      {"username", "username=\"a\""}, {"realm", "realm=\"r\""},
      {"nonce", "nonce=\"n\""},       {"uri", "uri=\"sip:r\""},
      {"response", "response=\"x\""},
  };
  auto build = [&](const std::string& without, const std::string& extra) {
    std::string x = "Digest ";
    bool first = true;
    for (auto& [name, param] : all) {
      if (name == without)
        continue;
      x += (first ? "" : ", ") + param;
      first = false;
    }
    return x + extra;
  };
  CAF_CHECK_EQUAL(parse_error(build("", "")), "<parsed>");
  for (auto& [name, param] : all) {
    CAF_MESSAGE("without " << name);
    CAF_CHECK_EQUAL(parse_error(build(name, "")), "missing " + name);
  }
  CAF_CHECK_EQUAL(parse_error(build("", ", qop=auth, nc=00000001")),
                  "qop without cnonce");
  CAF_CHECK_EQUAL(parse_error(build("", ", qop=auth, cnonce=\"c\"")),
                  "qop without nc");
  CAF_CHECK_EQUAL(parse_error(build("", ", qop=\"\"")), "empty qop");
  CAF_CHECK_EQUAL(parse_error(build("", ", qop=auth, cnonce=c, nc=0001")),
                  "nc must be 8 hex digits");
  CAF_CHECK_EQUAL(parse_error(build("", ", qop=auth, cnonce=c, nc=0000000g")),
                  "nc must be 8 hex digits");
  CAF_CHECK_EQUAL(parse_error(build("", ", qop=auth, cnonce=c, nc=000000001")),
                  "nc must be 8 hex digits");
  CAF_CHECK_EQUAL(parse_error(build("", ", userhash=maybe")),
                  "userhash must be true or false");
}

// --- credentials file ------------------------------------------------------

CAF_TEST(credentials file with comments blank lines and both algorithms) {
  auto md5 = digest_ha1(digest_algorithm::md5, "alice", "example.com", "pw");
  auto sha = digest_ha1(digest_algorithm::sha256, "alice", "example.com", "pw");
  std::string upper_sha = sha;
  for (auto& c : upper_sha)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto text = "# username realm algorithm ha1\n"
              "\n"
              "alice example.com MD5 "
              + md5
              + "\r\n"
                "   # indented comment\n"
                "alice\texample.com  sha-256 \t"
              + upper_sha
              + "   \n"
                "bob other.org MD5 "
              + digest_ha1(digest_algorithm::md5, "bob", "other.org", "x");
  auto store = parse_credentials(text);
  CAF_REQUIRE(store.has_value());
  CAF_CHECK_EQUAL(store->size(), 3u);
  auto* a1 = store->find("alice", "example.com", digest_algorithm::md5);
  auto* a2 = store->find("alice", "example.com", digest_algorithm::sha256);
  CAF_REQUIRE(a1 != nullptr);
  CAF_REQUIRE(a2 != nullptr);
  CAF_CHECK_EQUAL(*a1, md5);
  CAF_CHECK_EQUAL(*a2, sha); // stored lower-case
  CAF_CHECK(store->find("bob", "other.org", digest_algorithm::md5) != nullptr);
  CAF_CHECK(store->find("bob", "other.org", digest_algorithm::sha256)
            == nullptr);
  CAF_CHECK(store->find("bob", "example.com", digest_algorithm::md5)
            == nullptr);
  CAF_CHECK(store->find("Alice", "example.com", digest_algorithm::md5)
            == nullptr);
  CAF_CHECK(parse_credentials("").has_value());
  CAF_CHECK(parse_credentials("# only a comment\n\n").has_value());
}

CAF_TEST(credentials file errors carry the line number) {
  auto md5 = std::string(32, 'a');
  auto sha = std::string(64, 'b');
  CAF_CHECK_EQUAL(file_error("# c\n\nalice example.com MD5\n"),
                  "line 3: expected 4 fields (username realm algorithm ha1), "
                  "got 3");
  CAF_CHECK_EQUAL(file_error("alice example.com MD5 " + md5 + " # comment"),
                  "line 1: expected 4 fields (username realm algorithm ha1), "
                  "got 6");
  CAF_CHECK_EQUAL(file_error("a r MD5 " + md5 + "\na r SHA-512 " + sha),
                  "line 2: unknown algorithm 'SHA-512' (expected MD5 or "
                  "SHA-256)");
  CAF_CHECK_EQUAL(file_error("a r MD5 " + md5.substr(1)),
                  "line 1: HA1 for MD5 must be 32 hex digits, got 31");
  CAF_CHECK_EQUAL(file_error("\n\n\n\na r SHA-256 " + md5),
                  "line 5: HA1 for SHA-256 must be 64 hex digits, got 32");
  CAF_CHECK_EQUAL(file_error("a r MD5 " + md5.substr(1) + "g"),
                  "line 1: HA1 is not hex");
  CAF_CHECK_EQUAL(
      file_error("a r MD5 " + md5 + "\nb r MD5 " + md5 + "\na r MD5 " + md5),
      "line 3: duplicate entry for user 'a' realm 'r' MD5");
  // The same user with another algorithm or realm is no duplicate.
  CAF_CHECK(parse_credentials("a r MD5 " + md5 + "\na r SHA-256 " + sha
                              + "\na s MD5 " + md5)
                .has_value());
}

// --- authenticator ---------------------------------------------------------

CAF_TEST(settings are validated) {
  auto reason = [](digest_settings cfg) {
    auto x = digest_authenticator::make(std::move(cfg));
    return x.has_value() ? std::string{"<ok>"} : std::string{x.err().phrase()};
  };
  CAF_CHECK_EQUAL(reason(default_settings()), "<ok>");
  auto cfg = default_settings();
  cfg.realm.clear();
  CAF_CHECK_EQUAL(reason(cfg),
                  "realm must be non-empty, without control characters");
  cfg = default_settings();
  cfg.realm = "a\r\nb";
  CAF_CHECK_EQUAL(reason(cfg),
                  "realm must be non-empty, without control characters");
  cfg = default_settings();
  cfg.secret = "short";
  CAF_CHECK_EQUAL(reason(cfg), "nonce secret must have at least 16 bytes");
  cfg = default_settings();
  cfg.nonce_lifetime = 0;
  CAF_CHECK_EQUAL(reason(cfg), "nonce lifetime must be positive");
  cfg = default_settings();
  cfg.algorithms.clear();
  CAF_CHECK_EQUAL(reason(cfg), "no digest algorithm offered");
  cfg.algorithms = {digest_algorithm::md5, digest_algorithm::md5};
  CAF_CHECK_EQUAL(reason(cfg), "digest algorithm listed twice");
  cfg = default_settings();
  cfg.max_tracked_nonces = 0;
  CAF_CHECK_EQUAL(reason(cfg), "max_tracked_nonces must be positive");
}

CAF_TEST_FIXTURE_SCOPE(digest_authenticator_tests, fixture)

CAF_TEST(challenge offers sha256 then md5 with one nonce) {
  auto cs = auth.challenge(t0, false);
  CAF_REQUIRE_EQUAL(cs.size(), 2u);
  auto p0 = params_of(cs[0]);
  auto p1 = params_of(cs[1]);
  auto expected = [&](const char* alg) {
    return "Digest realm=\"example.com\", nonce=\"" + p0["nonce"]
           + "\", opaque=\"" + p0["opaque"] + "\", algorithm=" + alg
           + ", qop=\"auth\"";
  };
  CAF_CHECK_EQUAL(cs[0], expected("SHA-256"));
  CAF_CHECK_EQUAL(cs[1], expected("MD5"));
  CAF_CHECK_EQUAL(p0["nonce"].size(), 64u);
  CAF_CHECK_EQUAL(p0["opaque"].size(), 32u);
  CAF_CHECK_EQUAL(p1["nonce"], p0["nonce"]);
  // Every challenge has a new nonce, even at the same instant.
  auto next_nonce = params_of(auth.challenge(t0, false)[0])["nonce"];
  CAF_CHECK_EQUAL(next_nonce.size(), 64u);
  CAF_CHECK_NOT_EQUAL(next_nonce, p0["nonce"]);
  auto stale = auth.challenge(t0, true);
  CAF_REQUIRE_EQUAL(stale.size(), 2u);
  CAF_CHECK_EQUAL(stale[0].substr(stale[0].size() - 12), ", stale=true");
  auto stale_param = params_of(stale[1])["stale"];
  CAF_CHECK_EQUAL(stale_param, "true");
  CAF_CHECK_EQUAL(params_of(cs[0]).count("stale"), 0u);
}

CAF_TEST(challenge order follows the settings and quotes the realm) {
  auto cfg = default_settings();
  cfg.realm = "my \"quoted\\\" realm";
  cfg.algorithms = {digest_algorithm::md5};
  auto a = make_auth(cfg);
  auto cs = a.challenge(t0, false);
  CAF_REQUIRE_EQUAL(cs.size(), 1u);
  auto p = params_of(cs[0]);
  CAF_CHECK_EQUAL(p["realm"], cfg.realm);
  CAF_CHECK_EQUAL(p["algorithm"], "MD5");
  // A UA answering it round-trips the realm.
  credential_store s;
  CAF_REQUIRE(
      s.add("alice", cfg.realm, digest_algorithm::md5,
            digest_ha1(digest_algorithm::md5, "alice", cfg.realm, "wonderland"))
          .has_value());
  auto r = answer(cs[0]);
  CAF_CHECK_EQUAL(a.verify(r.method, authorization(r), s, t0).status,
                  digest_status::ok);
}

CAF_TEST(a sip round trip authenticates with sha256 and md5) {
  for (size_t which : {0u, 1u}) {
    auto cs = auth.challenge(t0, false);
    auto r = answer(cs[which]);
    CAF_CHECK_EQUAL(r.alg, which == 0 ? digest_algorithm::sha256
                                      : digest_algorithm::md5);
    auto out = auth.verify("REGISTER", authorization(r), store, t0 + seconds{1},
                           "sip:example.com");
    CAF_CHECK_EQUAL(out.status, digest_status::ok);
    CAF_CHECK(out.ok());
    CAF_CHECK_EQUAL(out.username, "alice");
    CAF_CHECK_EQUAL(sip_status(out.status), 200);
  }
  // MD5 may also be implied by leaving out the algorithm (RFC 2617).
  auto r = fresh(t0, 1);
  r.send_algorithm = false;
  CAF_CHECK_EQUAL(check(r), digest_status::ok);
  // Upper-case hex in the response is tolerated.
  r = fresh();
  auto value = authorization(r);
  auto pos = value.find("response=\"") + 10;
  for (size_t i = pos; value[i] != '"'; ++i)
    value[i]
        = static_cast<char>(std::toupper(static_cast<unsigned char>(value[i])));
  CAF_CHECK_EQUAL(auth.verify(r.method, value, store, t0).status,
                  digest_status::ok);
}

CAF_TEST(wrong password and wrong method give bad_response) {
  auto r = fresh();
  r.password = "wrong";
  auto out = auth.verify(r.method, authorization(r), store, t0);
  CAF_CHECK_EQUAL(out.status, digest_status::bad_response);
  CAF_CHECK_EQUAL(out.username, "");
  CAF_CHECK_EQUAL(sip_status(out.status), 403);
  CAF_CHECK_EQUAL(out.reason, "wrong response for 'alice'");
  r = fresh();
  CAF_CHECK_EQUAL(auth.verify("INVITE", authorization(r), store, t0).status,
                  digest_status::bad_response);
}

CAF_TEST(unknown user and user without credentials for the algorithm) {
  auto r = fresh();
  r.user = "mallory";
  auto out = auth.verify(r.method, authorization(r), store, t0);
  CAF_CHECK_EQUAL(out.status, digest_status::unknown_user);
  CAF_CHECK_EQUAL(sip_status(out.status), 403);
  // bob has only an MD5 HA1.
  r = fresh();
  r.user = "bob";
  r.password = "pw";
  CAF_CHECK_EQUAL(check(r), digest_status::unknown_user);
  r = fresh(t0, 1);
  r.user = "bob";
  r.password = "pw";
  CAF_CHECK_EQUAL(check(r), digest_status::ok);
}

CAF_TEST(wrong realm) {
  auto r = fresh();
  r.realm = "other.org";
  auto out = auth.verify(r.method, authorization(r), store, t0);
  CAF_CHECK_EQUAL(out.status, digest_status::wrong_realm);
  CAF_CHECK_EQUAL(out.reason, "realm 'other.org' is not ours");
  CAF_CHECK_EQUAL(sip_status(out.status), 401);
  r = fresh();
  r.realm = "EXAMPLE.COM"; // realms compare exactly
  CAF_CHECK_EQUAL(check(r), digest_status::wrong_realm);
}

CAF_TEST(a tampered or foreign nonce is rejected) {
  auto good = fresh();
  CAF_REQUIRE_EQUAL(good.nonce.size(), 64u);
  // Flip one digit in the time, the salt and the MAC part.
  for (size_t pos : {15u, 31u, 40u, 63u}) {
    auto r = good;
    r.nonce[pos] = r.nonce[pos] == '0' ? '1' : '0';
    CAF_MESSAGE("position " << pos);
    CAF_CHECK_EQUAL(check(r), digest_status::bad_nonce);
  }
  auto r = good;
  r.nonce = r.nonce.substr(0, 63);
  CAF_CHECK_EQUAL(check(r), digest_status::bad_nonce);
  r = good;
  r.nonce = "dcd98b7102dd2f0e8b11d0f600bfb0c093";
  CAF_CHECK_EQUAL(check(r), digest_status::bad_nonce);
  r = good;
  for (auto& c : r.nonce)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CAF_CHECK_EQUAL(check(r), digest_status::bad_nonce);
  // A nonce from a server with another secret.
  auto cfg = default_settings();
  cfg.secret = "another-secret-of-enough-bytes";
  auto other = make_auth(cfg);
  r = answer(other.challenge(t0, false)[0]);
  CAF_CHECK_EQUAL(check(r), digest_status::bad_nonce);
  // A changed opaque.
  r = good;
  r.opaque[0] = r.opaque[0] == 'a' ? 'b' : 'a';
  auto out = auth.verify(r.method, authorization(r), store, t0);
  CAF_CHECK_EQUAL(out.status, digest_status::bad_nonce);
  CAF_CHECK_EQUAL(out.reason, "opaque does not match");
  CAF_CHECK_EQUAL(sip_status(out.status), 401);
  // The untouched original still works.
  CAF_CHECK_EQUAL(check(good), digest_status::ok);
}

CAF_TEST(an expired nonce is stale and the retry succeeds) {
  auto r = fresh();
  CAF_CHECK_EQUAL(check(r, t0 + seconds{299}), digest_status::ok);
  r.nc = "00000002";
  auto out = auth.verify(r.method, authorization(r), store, t0 + seconds{300});
  CAF_CHECK_EQUAL(out.status, digest_status::stale_nonce);
  CAF_CHECK_EQUAL(sip_status(out.status), 401);
  // A wrong password with an expired nonce is not stale: the UA must not
  // retry silently.
  auto wrong = r;
  wrong.password = "wrong";
  CAF_CHECK_EQUAL(check(wrong, t0 + seconds{300}), digest_status::bad_response);
  // The UA retries with the nonce of the stale challenge.
  auto later = t0 + seconds{300};
  auto cs = auth.challenge(later, true);
  auto retry = answer(cs[0]);
  CAF_CHECK_EQUAL(check(retry, later), digest_status::ok);
  // A nonce "from the future" (another clock) is stale too.
  auto future = fresh(t0 + seconds{10});
  CAF_CHECK_EQUAL(check(future, t0), digest_status::stale_nonce);
  // A shorter lifetime.
  auto cfg = default_settings();
  cfg.nonce_lifetime = 5;
  auto quick = make_auth(cfg);
  auto q = answer(quick.challenge(t0, false)[0]);
  CAF_CHECK_EQUAL(
      quick.verify(q.method, authorization(q), store, t0 + seconds{4}).status,
      digest_status::ok);
  q.nc = "00000002";
  CAF_CHECK_EQUAL(
      quick.verify(q.method, authorization(q), store, t0 + seconds{5}).status,
      digest_status::stale_nonce);
}

CAF_TEST(nc must grow per nonce) {
  auto r = fresh();
  CAF_CHECK_EQUAL(check(r), digest_status::ok);
  auto out = auth.verify(r.method, authorization(r), store, t0);
  CAF_CHECK_EQUAL(out.status, digest_status::nc_replay);
  CAF_CHECK_EQUAL(out.reason, "nc 00000001 already used with this nonce");
  CAF_CHECK_EQUAL(sip_status(out.status), 401);
  r.nc = "00000002";
  CAF_CHECK_EQUAL(check(r), digest_status::ok);
  CAF_CHECK_EQUAL(check(r), digest_status::nc_replay);
  r.nc = "00000001";
  CAF_CHECK_EQUAL(check(r), digest_status::nc_replay);
  r.nc = "00000005"; // gaps are fine
  CAF_CHECK_EQUAL(check(r), digest_status::ok);
  // A forged request with a high nc does not advance the counter.
  auto forged = r;
  forged.password = "guess";
  forged.nc = "00000100";
  CAF_CHECK_EQUAL(check(forged), digest_status::bad_response);
  r.nc = "00000006";
  CAF_CHECK_EQUAL(check(r), digest_status::ok);
  // Another nonce has its own counter; nc 0 is never valid.
  auto other = fresh();
  other.nc = "00000000";
  CAF_CHECK_EQUAL(check(other), digest_status::nc_replay);
  other.nc = "00000001";
  CAF_CHECK_EQUAL(check(other), digest_status::ok);
  CAF_CHECK_EQUAL(auth.tracked_nonces(), 2u);
}

CAF_TEST(the nc table is bounded and forgets expired nonces) {
  auto cfg = default_settings();
  cfg.max_tracked_nonces = 2;
  auth = make_auth(cfg);
  auto r1 = fresh(t0);
  auto r2 = fresh(t0 + seconds{1});
  auto r3 = fresh(t0 + seconds{2});
  auto now = t0 + seconds{3};
  CAF_CHECK_EQUAL(check(r1, now), digest_status::ok);
  CAF_CHECK_EQUAL(check(r2, now), digest_status::ok);
  CAF_CHECK_EQUAL(check(r3, now), digest_status::ok);
  CAF_CHECK_EQUAL(auth.tracked_nonces(), 2u);
  // r1 was dropped: replaying it must not succeed; it is stale instead.
  CAF_CHECK_EQUAL(check(r1, now), digest_status::stale_nonce);
  r1.nc = "00000002";
  CAF_CHECK_EQUAL(check(r1, now), digest_status::stale_nonce);
  // r2 and r3 are still tracked.
  CAF_CHECK_EQUAL(check(r2, now), digest_status::nc_replay);
  CAF_CHECK_EQUAL(check(r3, now), digest_status::nc_replay);
  // Once r2 and r3 expire, the next success forgets them.
  auto later = t0 + seconds{302};
  auto r4 = fresh(later);
  CAF_CHECK_EQUAL(check(r4, later), digest_status::ok);
  CAF_CHECK_EQUAL(auth.tracked_nonces(), 1u);
}

CAF_TEST(unsupported algorithms and userhash) {
  auto r = fresh();
  auto value = authorization(r);
  auto pos = value.find("algorithm=SHA-256");
  CAF_REQUIRE(pos != std::string::npos);
  auto with_alg = [&](const std::string& alg) {
    auto v = value;
    v.replace(pos, 17, "algorithm=" + alg);
    return auth.verify(r.method, v, store, t0);
  };
  auto out = with_alg("SHA-512-256");
  CAF_CHECK_EQUAL(out.status, digest_status::unsupported_algorithm);
  CAF_CHECK_EQUAL(out.reason, "algorithm 'SHA-512-256' not offered");
  CAF_CHECK_EQUAL(sip_status(out.status), 401);
  CAF_CHECK_EQUAL(with_alg("MD5-sess").status,
                  digest_status::unsupported_algorithm);
  // An algorithm we know but do not offer.
  auto cfg = default_settings();
  cfg.algorithms = {digest_algorithm::sha256};
  auto sha_only = make_auth(cfg);
  auto m = answer(sha_only.challenge(t0, false)[0]);
  m.alg = digest_algorithm::md5;
  CAF_CHECK_EQUAL(sha_only.verify(m.method, authorization(m), store, t0).status,
                  digest_status::unsupported_algorithm);
  m.send_algorithm = false; // implied MD5
  CAF_CHECK_EQUAL(sha_only.verify(m.method, authorization(m), store, t0).status,
                  digest_status::unsupported_algorithm);
  out = auth.verify(r.method, value + ", userhash=true", store, t0);
  CAF_CHECK_EQUAL(out.status, digest_status::unsupported_algorithm);
  CAF_CHECK_EQUAL(out.reason, "userhash is not supported");
}

CAF_TEST(qop auth int and missing qop) {
  auto r = fresh();
  r.qop = "auth-int";
  auto out = auth.verify(r.method, authorization(r), store, t0);
  CAF_CHECK_EQUAL(out.status, digest_status::unsupported_qop);
  CAF_CHECK_EQUAL(out.reason, "qop 'auth-int' not supported");
  r.qop = "";
  out = auth.verify(r.method, authorization(r), store, t0);
  CAF_CHECK_EQUAL(out.status, digest_status::unsupported_qop);
  CAF_CHECK_EQUAL(out.reason, "no qop (RFC 2069 credentials are not accepted)");
  // Opt-in RFC 2069 compatibility.
  auto cfg = default_settings();
  cfg.accept_rfc2069 = true;
  auto compat = make_auth(cfg);
  auto c = answer(compat.challenge(t0, false)[1]);
  c.qop = "";
  CAF_CHECK_EQUAL(compat.verify(c.method, authorization(c), store, t0).status,
                  digest_status::ok);
  c.password = "wrong";
  CAF_CHECK_EQUAL(compat.verify(c.method, authorization(c), store, t0).status,
                  digest_status::bad_response);
}

CAF_TEST(missing and malformed credentials) {
  auto out = auth.verify("REGISTER", "", store, t0);
  CAF_CHECK_EQUAL(out.status, digest_status::missing);
  CAF_CHECK_EQUAL(sip_status(out.status), 401);
  CAF_CHECK_EQUAL(auth.verify("REGISTER", "  \r\n", store, t0).status,
                  digest_status::missing);
  CAF_CHECK_EQUAL(
      auth.verify("REGISTER", "Basic QWxhZGRpbjpvcGVu", store, t0).status,
      digest_status::missing);
  out = auth.verify("REGISTER", "Digest username=\"alice\", realm=\"x", store,
                    t0);
  CAF_CHECK_EQUAL(out.status, digest_status::malformed);
  CAF_CHECK_EQUAL(out.reason, "unterminated quoted string in realm");
  CAF_CHECK_EQUAL(sip_status(out.status), 400);
  out = auth.verify("REGISTER", "Digest username=\"alice\"", store, t0);
  CAF_CHECK_EQUAL(out.status, digest_status::malformed);
  CAF_CHECK_EQUAL(out.reason, "missing realm");
}

CAF_TEST(digest uri must match the request uri when given) {
  auto r = fresh();
  auto out = auth.verify(r.method, authorization(r), store, t0,
                         "sip:other.example.com");
  CAF_CHECK_EQUAL(out.status, digest_status::uri_mismatch);
  CAF_CHECK_EQUAL(sip_status(out.status), 400);
  CAF_CHECK_EQUAL(
      auth.verify(r.method, authorization(r), store, t0, r.uri).status,
      digest_status::ok);
}

CAF_TEST(status names) {
  CAF_CHECK_EQUAL(to_string(digest_status::ok), std::string{"ok"});
  CAF_CHECK_EQUAL(to_string(digest_status::stale_nonce),
                  std::string{"stale_nonce"});
  CAF_CHECK_EQUAL(to_string(digest_status::nc_replay),
                  std::string{"nc_replay"});
}

CAF_TEST_FIXTURE_SCOPE_END()
