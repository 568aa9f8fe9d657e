// SPDX-License-Identifier: MIT
#include "core/pidf.hpp"

#include <cstring>

#include "core/strings.hpp"

#include <tinyxml2.h>

namespace regcore::core {

namespace {

constexpr std::string_view ns_pidf = "urn:ietf:params:xml:ns:pidf";
constexpr std::string_view ns_dm = "urn:ietf:params:xml:ns:pidf:data-model";
constexpr std::string_view ns_rpid = "urn:ietf:params:xml:ns:pidf:rpid";

constexpr std::string_view other_available = "available";
constexpr std::string_view other_dnd = "do-not-disturb";

/// Appends `x` with the five XML special characters escaped.
void escape_into(std::string& out, std::string_view x) {
  for (char c : x) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // Control characters are not allowed in XML 1.0; drop them.
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\t' || c == '\n' || c == '\r')
          out.push_back(c);
    }
  }
}

void entity_into(std::string& out, std::string_view entity) {
  auto colon = entity.find(':');
  bool has_scheme = colon != std::string_view::npos
                    && entity.find('@') != std::string_view::npos
                    && colon < entity.find('@');
  if (!has_scheme)
    out += "sip:";
  escape_into(out, entity);
}

void priority_into(std::string& out, qvalue q) {
  // q in thousandths -> "0.8", "1", "0.125"
  if (q >= q_max) {
    out += '1';
    return;
  }
  out += "0.";
  char digits[3] = {static_cast<char>('0' + q / 100), static_cast<char>('0' + (q / 10) % 10),
                    static_cast<char>('0' + q % 10)};
  size_t n = 3;
  while (n > 1 && digits[n - 1] == '0')
    --n;
  out.append(digits, n);
}

void tuple_into(std::string& out, std::string_view id, basic_status basic,
                std::string_view contact, std::optional<qvalue> priority,
                std::string_view note) {
  out += "<tuple id=\"";
  escape_into(out, id);
  out += "\"><status><basic>";
  out += to_string(basic);
  out += "</basic></status>";
  if (!contact.empty()) {
    out += "<contact";
    if (priority) {
      out += " priority=\"";
      priority_into(out, *priority);
      out += '"';
    }
    out += '>';
    escape_into(out, contact);
    out += "</contact>";
  }
  if (!note.empty()) {
    out += "<note>";
    escape_into(out, note);
    out += "</note>";
  }
  out += "</tuple>";
}

void activities_into(std::string& out, const presence_state& s) {
  std::string_view other;
  const char* token = rpid_activity(s.status);
  switch (s.status) {
    case extended_status::available: other = other_available; break;
    case extended_status::do_not_disturb: other = other_dnd; break;
    case extended_status::custom: other = s.custom_status; break;
    default: break;
  }
  bool extra = false;
  for (auto& a : s.activities)
    if (a != token && !a.empty())
      extra = true;
  if (*token == '\0' && other.empty() && !extra)
    return;
  out += "<dm:person id=\"p\"><rpid:activities>";
  if (*token != '\0') {
    out += "<rpid:";
    out += token;
    out += "/>";
  }
  for (auto& a : s.activities) {
    // Further activities: plain RPID tokens only (letters and '-').
    if (a.empty() || a == token || a == "other")
      continue;
    bool ok = true;
    for (char c : a)
      ok = ok && ((c >= 'a' && c <= 'z') || c == '-');
    if (!ok)
      continue;
    out += "<rpid:";
    out += a;
    out += "/>";
  }
  if (!other.empty()) {
    out += "<rpid:other>";
    escape_into(out, other);
    out += "</rpid:other>";
  }
  out += "</rpid:activities></dm:person>";
}

// -- parsing ------------------------------------------------------------------------

error bad(std::string reason) {
  return make_error(errc::bad_pidf, std::move(reason));
}

std::string_view local_name(const tinyxml2::XMLElement* e) {
  std::string_view n = e->Name();
  auto colon = n.find(':');
  return colon == std::string_view::npos ? n : n.substr(colon + 1);
}

std::string_view prefix_of(const tinyxml2::XMLElement* e) {
  std::string_view n = e->Name();
  auto colon = n.find(':');
  return colon == std::string_view::npos ? std::string_view{} : n.substr(0, colon);
}

/// The namespace URI of `e`, resolved through the xmlns declarations of it
/// and its ancestors.
std::string_view namespace_of(const tinyxml2::XMLElement* e) {
  auto prefix = prefix_of(e);
  std::string attr = prefix.empty() ? std::string{"xmlns"} : "xmlns:" + std::string{prefix};
  for (auto n = e; n != nullptr; n = n->Parent() ? n->Parent()->ToElement() : nullptr)
    if (auto v = n->Attribute(attr.c_str()))
      return v;
  return {};
}

bool is(const tinyxml2::XMLElement* e, std::string_view ns, std::string_view name) {
  return local_name(e) == name && namespace_of(e) == ns;
}

std::string text_of(const tinyxml2::XMLElement* e) {
  auto t = e->GetText();
  return t ? std::string{trim(t)} : std::string{};
}

/// Counts elements and depth; false when over the limits.
bool within_limits(const tinyxml2::XMLElement* e, size_t depth, size_t& count,
                   const pidf_limits& limits) {
  if (depth > limits.max_depth || ++count > limits.max_elements)
    return false;
  for (auto c = e->FirstChildElement(); c; c = c->NextSiblingElement())
    if (!within_limits(c, depth + 1, count, limits))
      return false;
  return true;
}

/// RFC 3863 §4.3 / §5: an element we do not understand but that is marked
/// mustUnderstand="true" makes the document unusable.
const tinyxml2::XMLElement* must_understand_violation(const tinyxml2::XMLElement* e) {
  for (auto c = e->FirstChildElement(); c; c = c->NextSiblingElement()) {
    auto ns = namespace_of(c);
    bool known = ns == ns_pidf || ns == ns_dm || ns == ns_rpid;
    if (!known) {
      for (auto a = c->FirstAttribute(); a; a = a->Next()) {
        std::string_view name = a->Name();
        auto colon = name.find(':');
        auto local = colon == std::string_view::npos ? name : name.substr(colon + 1);
        std::string_view value = a->Value();
        if (local == "mustUnderstand" && (value == "true" || value == "1"))
          return c;
      }
    }
    if (auto bad_child = must_understand_violation(c))
      return bad_child;
  }
  return nullptr;
}

std::optional<qvalue> parse_priority(const char* text) {
  if (!text)
    return std::nullopt;
  std::string_view x = trim(text);
  if (x == "1" || x == "1.0" || x == "1.00" || x == "1.000")
    return q_max;
  if (x.size() < 2 || x[0] != '0' || x[1] != '.' || x.size() > 5)
    return x == "0" ? std::optional<qvalue>{0} : std::nullopt;
  uint32_t v = 0;
  size_t digits = 0;
  for (auto c : x.substr(2)) {
    if (c < '0' || c > '9')
      return std::nullopt;
    v = v * 10 + static_cast<uint32_t>(c - '0');
    ++digits;
  }
  while (digits++ < 3)
    v *= 10;
  return static_cast<qvalue>(v);
}

/// Maps one RPID activity element name to an extended status.
extended_status status_of_activity(std::string_view a) {
  if (a == "away" || a == "vacation" || a == "lunch" || a == "breakfast" || a == "dinner"
      || a == "meal" || a == "sleeping" || a == "travel" || a == "holiday"
      || a == "steering" || a == "shopping")
    return extended_status::away;
  if (a == "busy" || a == "working" || a == "performance" || a == "presentation"
      || a == "worship")
    return extended_status::busy;
  if (a == "on-the-phone")
    return extended_status::on_the_phone;
  if (a == "meeting" || a == "appointment")
    return extended_status::in_meeting;
  return extended_status::none;
}

} // namespace

const char* rpid_activity(extended_status x) noexcept {
  switch (x) {
    case extended_status::away: return "away";
    case extended_status::busy: return "busy";
    case extended_status::do_not_disturb: return "busy";
    case extended_status::on_the_phone: return "on-the-phone";
    case extended_status::in_meeting: return "meeting";
    default: return "";
  }
}

std::string render_pidf(const presence_state& s) {
  std::string out;
  out.reserve(512 + s.note.size() + s.devices.size() * 160);
  out += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
         "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" "
         "xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\" "
         "xmlns:rpid=\"urn:ietf:params:xml:ns:pidf:rpid\" entity=\"";
  entity_into(out, s.entity);
  out += "\">";
  if (s.devices.empty()) {
    tuple_into(out, "t", s.basic, {}, std::nullopt, {});
  } else {
    for (auto& d : s.devices)
      tuple_into(out, d.device_id.empty() ? std::string_view{"t"} : d.device_id,
                 d.basic, d.contact, d.priority, d.note == s.note ? "" : d.note);
  }
  activities_into(out, s);
  if (!s.note.empty()) {
    out += "<note>";
    escape_into(out, s.note);
    out += "</note>";
  }
  out += "</presence>\n";
  return out;
}

std::string render_neutral_pidf(std::string_view entity) {
  presence_state s;
  s.entity = std::string{entity};
  s.basic = basic_status::closed;
  return render_pidf(s);
}

result<presence_state> parse_pidf(std::string_view xml, const pidf_limits& limits) {
  if (trim(xml).empty())
    return bad("Empty PIDF document");
  if (xml.size() > limits.max_size)
    return bad("PIDF document too large");
  // No DTDs at all: nothing in PIDF needs one, and entity declarations are
  // the way to expansion attacks ("billion laughs").
  for (auto marker : {"<!DOCTYPE", "<!doctype", "<!ENTITY", "<!entity"})
    if (xml.find(marker) != std::string_view::npos)
      return bad("DTD or entity declarations are not allowed");
  tinyxml2::XMLDocument doc{true, tinyxml2::COLLAPSE_WHITESPACE};
  if (doc.Parse(xml.data(), xml.size()) != tinyxml2::XML_SUCCESS)
    return bad(std::string{"Malformed XML: "} + doc.ErrorName());
  auto root = doc.RootElement();
  if (!root)
    return bad("No root element");
  size_t count = 0;
  if (!within_limits(root, 1, count, limits))
    return bad("Too many or too deeply nested elements");
  if (local_name(root) != "presence")
    return bad("Root element is not <presence>");
  if (namespace_of(root) != ns_pidf)
    return bad("Root element is not in the PIDF namespace");
  auto entity = root->Attribute("entity");
  if (!entity || trim(entity).empty())
    return bad("Missing entity");
  if (auto e = must_understand_violation(root))
    return bad(std::string{"Unsupported mustUnderstand element <"} + e->Name() + ">");
  presence_state s;
  s.entity = std::string{trim(entity)};
  std::string tuple_note;
  bool any_open = false;
  for (auto c = root->FirstChildElement(); c; c = c->NextSiblingElement()) {
    if (is(c, ns_pidf, "tuple")) {
      device_presence d;
      auto id = c->Attribute("id");
      d.device_id = id ? id : "";
      const tinyxml2::XMLElement* status = nullptr;
      for (auto t = c->FirstChildElement(); t; t = t->NextSiblingElement()) {
        if (is(t, ns_pidf, "status")) {
          status = t;
        } else if (is(t, ns_pidf, "contact")) {
          d.contact = text_of(t);
          d.priority = parse_priority(t->Attribute("priority"));
        } else if (is(t, ns_pidf, "note") && d.note.empty()) {
          d.note = text_of(t);
        }
      }
      if (!status)
        return bad("Tuple without status");
      if (auto b = status->FirstChildElement(); b) {
        for (; b; b = b->NextSiblingElement()) {
          if (!is(b, ns_pidf, "basic"))
            continue;
          auto v = text_of(b);
          if (v == "open")
            d.basic = basic_status::open;
          else if (v == "closed")
            d.basic = basic_status::closed;
          else
            return bad("Unknown basic status '" + v + "'");
        }
      }
      any_open = any_open || d.basic == basic_status::open;
      if (tuple_note.empty())
        tuple_note = d.note;
      s.devices.push_back(std::move(d));
    } else if (is(c, ns_pidf, "note")) {
      if (s.note.empty())
        s.note = text_of(c);
    } else if (is(c, ns_dm, "person")) {
      for (auto p = c->FirstChildElement(); p; p = p->NextSiblingElement()) {
        if (is(p, ns_rpid, "activities")) {
          for (auto a = p->FirstChildElement(); a; a = a->NextSiblingElement()) {
            if (namespace_of(a) != ns_rpid)
              continue;
            auto name = local_name(a);
            if (name == "other") {
              auto text = text_of(a);
              if (text == other_available) {
                if (s.status == extended_status::none)
                  s.status = extended_status::available;
              } else if (text == other_dnd) {
                s.status = extended_status::do_not_disturb;
              } else if (!text.empty() && s.status == extended_status::none) {
                s.status = extended_status::custom;
                s.custom_status = text;
              }
              continue;
            }
            s.activities.emplace_back(name);
            auto st = status_of_activity(name);
            if (st != extended_status::none
                && (s.status == extended_status::none
                    || s.status == extended_status::available
                    || s.status == extended_status::custom))
              s.status = st;
          }
        } else if (is(p, ns_dm, "note") && s.note.empty()) {
          s.note = text_of(p);
        }
      }
    }
  }
  if (s.note.empty())
    s.note = tuple_note;
  s.basic = any_open ? basic_status::open : basic_status::closed;
  return s;
}

} // namespace regcore::core
