// SPDX-License-Identifier: MIT
#define CAF_SUITE core.pidf
#include <caf/test/unit_test.hpp>

#include "core/pidf.hpp"

#include <tinyxml2.h>

using namespace regcore::core;

namespace {

std::string reason_of(std::string_view xml) {
  auto r = parse_pidf(xml);
  return r ? std::string{"OK"} : r.err().reason;
}

/// Parses rendered output with tinyxml2 directly (an independent check).
struct dom {
  tinyxml2::XMLDocument doc;
  explicit dom(const std::string& xml) {
    if (doc.Parse(xml.c_str()) != tinyxml2::XML_SUCCESS)
      CAF_FAIL("rendered PIDF is not XML: " << xml);
  }
  tinyxml2::XMLElement* root() { return doc.RootElement(); }
  size_t count(const char* name) {
    size_t n = 0;
    for (auto e = root()->FirstChildElement(name); e; e = e->NextSiblingElement(name))
      ++n;
    return n;
  }
};

const char* linphone_doc =
  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
  "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" "
  "xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\" "
  "xmlns:rpid=\"urn:ietf:params:xml:ns:pidf:rpid\" entity=\"sip:bob@example.com\">\n"
  "  <tuple id=\"qsssxf\">\n"
  "    <status><basic>open</basic></status>\n"
  "    <contact>sip:bob@192.0.2.7:5060</contact>\n"
  "    <timestamp>2026-11-24T19:00:00Z</timestamp>\n"
  "  </tuple>\n"
  "  <dm:person id=\"xyz\">\n"
  "    <rpid:activities><rpid:away/></rpid:activities>\n"
  "    <dm:note>Gone fishing</dm:note>\n"
  "  </dm:person>\n"
  "</presence>\n";

const char* prefixed_doc =
  "<?xml version=\"1.0\"?>"
  "<p:presence xmlns:p=\"urn:ietf:params:xml:ns:pidf\" entity=\"pres:carol@example.com\">"
  "<p:tuple id=\"a\"><p:status><p:basic>closed</p:basic></p:status>"
  "<p:contact priority=\"0.8\">sip:carol@192.0.2.8</p:contact></p:tuple>"
  "<p:tuple id=\"b\"><p:status><p:basic>open</p:basic></p:status>"
  "<p:note>on the desk phone</p:note></p:tuple>"
  "</p:presence>";

} // namespace

CAF_TEST(renders a state without devices as one tuple) {
  presence_state s;
  s.entity = "sip:alice@example.com";
  s.basic = basic_status::open;
  auto xml = render_pidf(s);
  dom d{xml};
  CAF_CHECK_EQUAL(std::string{d.root()->Name()}, "presence");
  CAF_CHECK_EQUAL(std::string{d.root()->Attribute("xmlns")}, "urn:ietf:params:xml:ns:pidf");
  CAF_CHECK_EQUAL(std::string{d.root()->Attribute("xmlns:rpid")},
                  "urn:ietf:params:xml:ns:pidf:rpid");
  CAF_CHECK_EQUAL(std::string{d.root()->Attribute("entity")}, "sip:alice@example.com");
  CAF_REQUIRE_EQUAL(d.count("tuple"), 1u);
  auto basic = d.root()->FirstChildElement("tuple")->FirstChildElement("status")->FirstChildElement("basic");
  CAF_REQUIRE(basic != nullptr);
  CAF_CHECK_EQUAL(std::string{basic->GetText()}, "open");
  CAF_CHECK(d.root()->FirstChildElement("dm:person") == nullptr);
}

CAF_TEST(renders one tuple per device with its own basic) {
  presence_state s;
  s.entity = "alice@example.com"; // no scheme: gets sip:
  s.basic = basic_status::open;
  for (auto [id, b] : {std::pair{"phone", basic_status::open},
                       std::pair{"desk", basic_status::closed},
                       std::pair{"tablet", basic_status::closed}}) {
    device_presence d;
    d.device_id = id;
    d.basic = b;
    d.contact = std::string{"sip:alice@"} + id + ".example.com";
    d.priority = 800;
    s.devices.push_back(d);
  }
  dom d{render_pidf(s)};
  CAF_CHECK_EQUAL(std::string{d.root()->Attribute("entity")}, "sip:alice@example.com");
  CAF_REQUIRE_EQUAL(d.count("tuple"), 3u);
  auto t = d.root()->FirstChildElement("tuple");
  CAF_CHECK_EQUAL(std::string{t->Attribute("id")}, "phone");
  CAF_CHECK_EQUAL(std::string{t->FirstChildElement("contact")->Attribute("priority")}, "0.8");
  t = t->NextSiblingElement("tuple");
  CAF_CHECK_EQUAL(std::string{t->FirstChildElement("status")->FirstChildElement("basic")->GetText()},
                  "closed");
}

CAF_TEST(the entity is never doubled) {
  for (auto e : {"sip:alice@example.com", "sips:alice@example.com",
                 "pres:alice@example.com", "alice@example.com"}) {
    presence_state s;
    s.entity = e;
    auto xml = render_pidf(s);
    CAF_CHECK(xml.find("sip:sip:") == std::string::npos);
    CAF_CHECK(xml.find("sip:sips:") == std::string::npos);
    CAF_CHECK(xml.find("sip:pres:") == std::string::npos);
    auto back = parse_pidf(xml);
    CAF_REQUIRE(back);
    CAF_CHECK_EQUAL(back->entity.find("alice@example.com") != std::string::npos, true);
  }
}

CAF_TEST(the note is escaped) {
  presence_state s;
  s.entity = "sip:alice@example.com";
  s.note = "<b>back</b> & \"soon\" 'ish'";
  auto xml = render_pidf(s);
  CAF_CHECK(xml.find("<b>") == std::string::npos);
  CAF_CHECK(xml.find("&lt;b&gt;back&lt;/b&gt; &amp; &quot;soon&quot; &apos;ish&apos;")
            != std::string::npos);
  auto back = parse_pidf(xml);
  CAF_REQUIRE(back);
  CAF_CHECK_EQUAL(back->note, s.note);
}

CAF_TEST(every status round trips with basic and note) {
  for (auto st : {extended_status::none, extended_status::available, extended_status::away,
                  extended_status::busy, extended_status::do_not_disturb,
                  extended_status::on_the_phone, extended_status::in_meeting,
                  extended_status::custom}) {
    presence_state s;
    s.entity = "sip:alice@example.com";
    s.status = st;
    s.basic = implied_basic(st);
    s.note = std::string{"note for "} + to_string(st);
    if (st == extended_status::custom)
      s.custom_status = "writing <code> & tests";
    auto back = parse_pidf(render_pidf(s));
    CAF_REQUIRE(back);
    CAF_CHECK_EQUAL(back->entity, s.entity);
    CAF_CHECK_EQUAL(std::string{to_string(back->status)}, std::string{to_string(st)});
    CAF_CHECK(back->basic == s.basic);
    CAF_CHECK_EQUAL(back->note, s.note);
    CAF_CHECK_EQUAL(back->custom_status, s.custom_status);
  }
}

CAF_TEST(parses what linphone publishes) {
  auto s = parse_pidf(linphone_doc);
  CAF_REQUIRE(s);
  CAF_CHECK_EQUAL(s->entity, "sip:bob@example.com");
  CAF_CHECK(s->basic == basic_status::open);
  CAF_CHECK(s->status == extended_status::away);
  CAF_CHECK_EQUAL(s->note, "Gone fishing");
  CAF_REQUIRE_EQUAL(s->devices.size(), 1u);
  CAF_CHECK_EQUAL(s->devices[0].device_id, "qsssxf");
  CAF_CHECK_EQUAL(s->devices[0].contact, "sip:bob@192.0.2.7:5060");
}

CAF_TEST(parses prefixed namespaces and several tuples) {
  auto s = parse_pidf(prefixed_doc);
  CAF_REQUIRE(s);
  CAF_CHECK_EQUAL(s->entity, "pres:carol@example.com");
  CAF_CHECK(s->basic == basic_status::open); // one tuple is open
  CAF_REQUIRE_EQUAL(s->devices.size(), 2u);
  CAF_REQUIRE(s->devices[0].priority.has_value());
  CAF_CHECK_EQUAL(*s->devices[0].priority, 800u);
  CAF_CHECK(s->devices[0].basic == basic_status::closed);
  CAF_CHECK_EQUAL(s->note, "on the desk phone");
}

CAF_TEST(maps other rpid activities) {
  auto doc = [](const char* activity) {
    return std::string{"<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" "
                       "xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\" "
                       "xmlns:r=\"urn:ietf:params:xml:ns:pidf:rpid\" entity=\"sip:a@b.c\">"
                       "<tuple id=\"t\"><status><basic>closed</basic></status></tuple>"
                       "<dm:person id=\"p\"><r:activities><r:"}
           + activity + "/></r:activities></dm:person></presence>";
  };
  auto status_of = [&](const char* activity) {
    auto r = parse_pidf(doc(activity));
    return r ? r->status : extended_status::custom;
  };
  CAF_CHECK(status_of("appointment") == extended_status::in_meeting);
  CAF_CHECK(status_of("vacation") == extended_status::away);
  CAF_CHECK(status_of("on-the-phone") == extended_status::on_the_phone);
  CAF_CHECK(status_of("unknown") == extended_status::none);
  auto vacation = parse_pidf(doc("vacation"));
  CAF_REQUIRE(vacation);
  CAF_CHECK_EQUAL(vacation->activities, std::vector<std::string>{"vacation"});
}

CAF_TEST(rejects malformed documents with a reason) {
  const std::string ok_head = "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"sip:a@b.c\">";
  CAF_CHECK_EQUAL(reason_of(""), "Empty PIDF document");
  CAF_CHECK_EQUAL(reason_of("   \r\n"), "Empty PIDF document");
  CAF_CHECK_EQUAL(reason_of(std::string(70000, ' ') + "x"), "PIDF document too large");
  CAF_CHECK_EQUAL(reason_of("<presence"), "Malformed XML: XML_ERROR_PARSING_ELEMENT");
  CAF_CHECK_EQUAL(reason_of(ok_head + "<tuple id=\"t\">"),
                  "Malformed XML: XML_ERROR_MISMATCHED_ELEMENT");
  CAF_CHECK_EQUAL(reason_of("<foo xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"sip:a@b.c\"/>"),
                  "Root element is not <presence>");
  CAF_CHECK_EQUAL(reason_of("<presence xmlns=\"urn:example:other\" entity=\"sip:a@b.c\"/>"),
                  "Root element is not in the PIDF namespace");
  CAF_CHECK_EQUAL(reason_of("<presence entity=\"sip:a@b.c\"/>"),
                  "Root element is not in the PIDF namespace");
  CAF_CHECK_EQUAL(reason_of("<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"/>"),
                  "Missing entity");
  CAF_CHECK_EQUAL(reason_of(ok_head + "<tuple id=\"t\"><contact>x</contact></tuple></presence>"),
                  "Tuple without status");
  CAF_CHECK_EQUAL(reason_of(ok_head + "<tuple id=\"t\"><status><basic>maybe</basic></status></tuple></presence>"),
                  "Unknown basic status 'maybe'");
  CAF_CHECK_EQUAL(
    reason_of(ok_head + "<tuple id=\"t\"><status><basic>open</basic>"
                        "<x:geo xmlns:x=\"urn:example:geo\" mustUnderstand=\"true\"/></status></tuple></presence>"),
    "Unsupported mustUnderstand element <x:geo>");
  // An unknown element without mustUnderstand is ignored.
  CAF_CHECK_EQUAL(
    reason_of(ok_head + "<tuple id=\"t\"><status><basic>open</basic>"
                        "<x:geo xmlns:x=\"urn:example:geo\">here</x:geo></status></tuple></presence>"),
    "OK");
}

CAF_TEST(rejects entity expansion tricks and deep nesting) {
  const char* laughs =
    "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
    "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]>"
    "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"sip:a@b.c\"><note>&lol2;</note></presence>";
  CAF_CHECK_EQUAL(reason_of(laughs), "DTD or entity declarations are not allowed");
  CAF_CHECK_EQUAL(reason_of("<!doctype presence><presence/>"),
                  "DTD or entity declarations are not allowed");
  std::string deep = "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"sip:a@b.c\">";
  for (int i = 0; i < 40; ++i)
    deep += "<x>";
  for (int i = 0; i < 40; ++i)
    deep += "</x>";
  deep += "</presence>";
  CAF_CHECK_EQUAL(reason_of(deep), "Too many or too deeply nested elements");
  std::string wide = "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"sip:a@b.c\">";
  for (int i = 0; i < 2500; ++i)
    wide += "<x/>";
  wide += "</presence>";
  CAF_CHECK_EQUAL(reason_of(wide), "Too many or too deeply nested elements");
}

CAF_TEST(neutral document is closed and bare) {
  auto xml = render_neutral_pidf("sip:alice@example.com");
  auto s = parse_pidf(xml);
  CAF_REQUIRE(s);
  CAF_CHECK(s->basic == basic_status::closed);
  CAF_CHECK(s->status == extended_status::none);
  CAF_CHECK(s->note.empty());
}
