// SPDX-License-Identifier: MIT
#define CAF_SUITE core.presence
#include <caf/test/unit_test.hpp>

#include "core/presence.hpp"

using namespace regcore::core;

namespace {

time_point at(int s) {
  return time_point{} + std::chrono::seconds{s};
}

device_presence dev(std::string id, basic_status b, extended_status st, int updated,
                    std::string note = {}) {
  device_presence d;
  d.device_id = std::move(id);
  d.basic = b;
  d.status = st;
  d.note = std::move(note);
  d.last_updated = at(updated);
  return d;
}

} // namespace

CAF_TEST(open if any device is open) {
  auto s = compose_presence("sip:a@b.c",
                            {dev("1", basic_status::closed, extended_status::none, 1),
                             dev("2", basic_status::open, extended_status::none, 2)},
                            at(3));
  CAF_CHECK(s.basic == basic_status::open);
  CAF_CHECK_EQUAL(s.devices.size(), 2u);
  s = compose_presence("sip:a@b.c", {dev("1", basic_status::closed, extended_status::none, 1)},
                       at(3));
  CAF_CHECK(s.basic == basic_status::closed);
  s = compose_presence("sip:a@b.c", {}, at(3));
  CAF_CHECK(s.basic == basic_status::closed);
}

CAF_TEST(the most recent status and its note win) {
  auto s = compose_presence(
    "sip:a@b.c",
    {dev("desk", basic_status::closed, extended_status::away, 10, "lunch"),
     dev("phone", basic_status::open, extended_status::on_the_phone, 20, "call"),
     dev("tablet", basic_status::open, extended_status::none, 30, "tablet note")},
    at(40));
  CAF_CHECK(s.status == extended_status::on_the_phone);
  CAF_CHECK_EQUAL(s.note, "call");
  CAF_CHECK(s.basic == basic_status::open);
}

CAF_TEST(ties go to the more specific status) {
  auto s = compose_presence("sip:a@b.c",
                            {dev("1", basic_status::open, extended_status::available, 5),
                             dev("2", basic_status::closed, extended_status::do_not_disturb, 5),
                             dev("3", basic_status::closed, extended_status::busy, 5)},
                            at(6));
  CAF_CHECK(s.status == extended_status::do_not_disturb);
}

CAF_TEST(without statuses the most recent note counts) {
  auto s = compose_presence("sip:a@b.c",
                            {dev("1", basic_status::open, extended_status::none, 5, "old"),
                             dev("2", basic_status::open, extended_status::none, 9, "new"),
                             dev("3", basic_status::open, extended_status::none, 12)},
                            at(20));
  CAF_CHECK_EQUAL(s.note, "new");
}

CAF_TEST(expired devices are dropped) {
  auto gone = dev("1", basic_status::open, extended_status::busy, 30, "x");
  gone.expires_at = at(60);
  auto live = dev("2", basic_status::closed, extended_status::away, 10, "y");
  live.expires_at = at(100);
  auto s = compose_presence("sip:a@b.c", {gone, live}, at(60));
  CAF_CHECK_EQUAL(s.devices.size(), 1u);
  CAF_CHECK(s.status == extended_status::away);
  CAF_CHECK(s.basic == basic_status::closed);
  CAF_CHECK(s.expires_at == at(100));
  s = compose_presence("sip:a@b.c", {gone, live}, at(59));
  CAF_CHECK(s.status == extended_status::busy);
  CAF_CHECK(s.expires_at == at(60));
}

CAF_TEST(activities are a union without duplicates) {
  auto a = dev("1", basic_status::open, extended_status::none, 1);
  a.activities = {"busy", "meeting"};
  auto b = dev("2", basic_status::open, extended_status::none, 2);
  b.activities = {"meeting", "away"};
  auto s = compose_presence("sip:a@b.c", {a, b}, at(3));
  CAF_CHECK_EQUAL(s.activities, (std::vector<std::string>{"meeting", "away", "busy"}));
}

CAF_TEST(presence from registration) {
  auto on = presence_from_registration("sip:a@b.c", true, at(1));
  CAF_CHECK(on.basic == basic_status::open);
  CAF_CHECK(on.status == extended_status::none);
  auto off = presence_from_registration("sip:a@b.c", false, at(1));
  CAF_CHECK(off.basic == basic_status::closed);
}

CAF_TEST(updates map status to basic and carry exactly their note) {
  struct row {
    extended_status st;
    basic_status basic;
  };
  for (auto r : {row{extended_status::available, basic_status::open},
                 row{extended_status::busy, basic_status::closed},
                 row{extended_status::away, basic_status::closed},
                 row{extended_status::do_not_disturb, basic_status::closed},
                 row{extended_status::on_the_phone, basic_status::closed},
                 row{extended_status::in_meeting, basic_status::closed},
                 row{extended_status::custom, basic_status::open}}) {
    auto d = device_from_update("api", r.st, "text", std::nullopt, "", {}, at(1));
    CAF_CHECK(d.basic == r.basic);
    CAF_CHECK(d.note.empty());
  }
  auto forced = device_from_update("api", extended_status::busy, "", basic_status::open,
                                   "n", {}, at(1));
  CAF_CHECK(forced.basic == basic_status::open);
  CAF_CHECK_EQUAL(forced.note, "n");
  auto nocustom = device_from_update("api", extended_status::busy, "ignored", std::nullopt,
                                     "", {}, at(1));
  CAF_CHECK(nocustom.custom_status.empty());
}

CAF_TEST(media types compare without parameters) {
  CAF_CHECK(iequals_media_type("application/pidf+xml", "application/pidf+xml"));
  CAF_CHECK(iequals_media_type("Application/PIDF+XML ; charset=utf-8", "application/pidf+xml"));
  CAF_CHECK(!iequals_media_type("application/xpidf+xml", "application/pidf+xml"));
  CAF_CHECK(!iequals_media_type("", "application/pidf+xml"));
}
