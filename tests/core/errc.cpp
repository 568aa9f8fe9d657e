// SPDX-License-Identifier: MIT
#define CAF_SUITE core.errc
#include <caf/test/unit_test.hpp>

#include <set>
#include <string>

#include "core/errc.hpp"
#include "core/result.hpp"

using namespace regcore::core;

CAF_TEST(every errc has a name a status and a reason) {
  std::set<std::string> names;
  for (uint8_t i = 0; i < errc_count; ++i) {
    auto x = static_cast<errc>(i);
    std::string name = to_string(x);
    CAF_CHECK(!name.empty());
    CAF_CHECK(names.insert(name).second); // names are unique
    auto status = sip_status(x);
    CAF_CHECK(status >= 200 && status < 700);
    CAF_CHECK(std::string{default_reason(x)}.size() > 1);
  }
  CAF_CHECK_EQUAL(names.size(), static_cast<size_t>(errc_count));
}

CAF_TEST(statuses follow the sip meaning) {
  CAF_CHECK_EQUAL(sip_status(errc::bad_request), 400);
  CAF_CHECK_EQUAL(sip_status(errc::interval_too_brief), 423);
  CAF_CHECK_EQUAL(std::string{default_reason(errc::interval_too_brief)},
                  "Interval Too Brief");
  CAF_CHECK_EQUAL(sip_status(errc::message_too_large), 513);
  CAF_CHECK_EQUAL(sip_status(errc::subscription_not_found), 481);
  CAF_CHECK_EQUAL(sip_status(errc::bad_event), 489);
  CAF_CHECK_EQUAL(sip_status(errc::conditional_request_failed), 412);
  CAF_CHECK_EQUAL(sip_status(errc::unsupported_media_type), 415);
  CAF_CHECK_EQUAL(sip_status(errc::not_acceptable), 406);
  CAF_CHECK_EQUAL(sip_status(errc::unsupported_uri_scheme), 416);
  CAF_CHECK_EQUAL(std::string{to_string(errc::too_many_contacts)}, "too_many_contacts");
}

CAF_TEST(result carries a value or an error) {
  result<int> ok{42};
  CAF_REQUIRE(ok.has_value());
  CAF_CHECK_EQUAL(*ok, 42);
  result<int> bad{make_error(errc::interval_too_brief, "Interval Too Brief", 60)};
  CAF_REQUIRE(!bad);
  CAF_CHECK(bad.err() == errc::interval_too_brief);
  CAF_CHECK_EQUAL(bad.err().value, 60u);
  CAF_CHECK_EQUAL(std::string{bad.err().phrase()}, "Interval Too Brief");
  result<int> bare{errc::bad_request};
  CAF_CHECK_EQUAL(std::string{bare.err().phrase()}, "Bad Request");
  result<void> fine;
  CAF_CHECK(fine.has_value());
  result<void> fail{errc::forbidden};
  CAF_CHECK(!fail.has_value());
}
