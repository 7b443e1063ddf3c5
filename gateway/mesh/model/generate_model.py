#!/usr/bin/env python3
"""generate_model.py - generate the Mesh data model (C++ structs and JSON codec) from mesh.schema.

Usage:
  generate_model.py --schema mesh.schema --out-dir DIR [--cc-files N]
      writes DIR/mesh_model.h, DIR/mesh_model_codec.h (internal), DIR/mesh_model_types.cc and
      DIR/mesh_model_codec_<i>.cc for i in 0..N-1
  generate_model.py --schema mesh.schema --test-out FILE
      writes the generated round-trip test (one case per structure)
  generate_model.py --schema mesh.schema --check
      parses and validates the schema only

Python 3 standard library only. docs/mesh-data-model.md describes the schema format and the
generated API. The output is deterministic (same schema, same bytes).
"""

import argparse
import os
import re
import sys

SCALARS = {
    "String": "std::string",
    "Boolean": "bool",
    "Integer": "std::int64_t",
    "DateTime": "DateTime",
    "Binary": "Bytes",
    "DareEnvelope": "DareEnvelope",
}

CPP_KEYWORDS = set("""
alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t char16_t
char32_t class compl concept const consteval constexpr constinit const_cast continue co_await
co_return co_yield decltype default delete do double dynamic_cast else enum explicit export
extern false float for friend goto if inline int long mutable namespace new noexcept not not_eq
nullptr operator or or_eq private protected public register reinterpret_cast requires return
short signed sizeof static static_assert static_cast struct switch template this thread_local
throw true try typedef typeid typename union unsigned using virtual void volatile wchar_t while
xor xor_eq
""".split())


class SchemaError(Exception):
    pass


class Field:
    def __init__(self, name, type_name, multiple, cpp, description, line):
        self.name = name
        self.type = type_name
        self.multiple = multiple
        self.cpp = cpp
        self.description = description
        self.line = line


class Struct:
    def __init__(self, name, base, abstract, section, line):
        self.name = name
        self.base = base
        self.abstract = abstract
        self.section = section
        self.line = line
        self.fields = []
        self.description = []


def snake_case(name):
    s = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    s = re.sub(r"(?<=[A-Z])(?=[A-Z][a-z])", "_", s)
    return s.lower()


STRUCT_RE = re.compile(r"^(abstract\s+)?structure\s+([A-Z][A-Za-z0-9]*)"
                       r"(?:\s+inherits\s+([A-Z][A-Za-z0-9]*))?\s*$")
FIELD_RE = re.compile(
    r"^([A-Za-z][A-Za-z0-9]*)\s*:\s*([A-Z][A-Za-z0-9]*)\s+(\(Optional\)|\[0\.\.Many\])"
    r"(?:\s+cpp=([a-z][a-z0-9_]*))?\s*(?:--\s*(.*))?$")


def strip_comment(line):
    # '#' starts a comment unless it is inside a description ("-- ...").
    desc = line.find("--")
    hash_pos = line.find("#")
    if hash_pos >= 0 and (desc < 0 or hash_pos < desc):
        return line[:hash_pos]
    return line


def parse_schema(path):
    structs = []
    section = None
    current = None
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, 1):
            line = strip_comment(raw.rstrip("\n")).rstrip()
            if not line.strip():
                continue
            where = "%s:%d" % (path, number)
            if not line[0].isspace():
                current = None
                if line.startswith("section "):
                    section = line[len("section "):].strip()
                    continue
                m = STRUCT_RE.match(line)
                if not m:
                    raise SchemaError("%s: expected 'section' or '[abstract] structure Name "
                                      "[inherits Base]', got %r" % (where, line))
                current = Struct(m.group(2), m.group(3), bool(m.group(1)), section, where)
                structs.append(current)
                continue
            if current is None:
                raise SchemaError("%s: indented line outside a structure" % where)
            body = line.strip()
            if body.startswith("--"):
                # Before the first field: the structure's description; after: the last field's
                # description continues.
                text = body[2:].strip()
                if current.fields:
                    last = current.fields[-1]
                    last.description = (last.description + " " + text).strip()
                else:
                    current.description.append(text)
                continue
            m = FIELD_RE.match(body)
            if not m:
                raise SchemaError("%s: expected 'Name: Type (Optional)' or 'Name: Type [0..Many]' "
                                  "[cpp=member] [-- text], got %r" % (where, body))
            name, type_name, card, cpp, desc = m.groups()
            cpp = cpp or snake_case(name)
            current.fields.append(Field(name, type_name, card.startswith("["), cpp,
                                        (desc or "").strip(), where))
    return structs


class Model:
    def __init__(self, structs):
        self.structs = structs
        self.by_name = {}
        for s in structs:
            if s.name in self.by_name:
                raise SchemaError("%s: structure %s defined twice (first at %s)"
                                  % (s.line, s.name, self.by_name[s.name].line))
            if s.name in SCALARS:
                raise SchemaError("%s: %s is a built-in type name" % (s.line, s.name))
            self.by_name[s.name] = s
        self.validate()
        self.ordered = self.dependency_order()

    # Inheritance chain, root first.
    def chain(self, s):
        out = []
        seen = set()
        while s is not None:
            if s.name in seen:
                raise SchemaError("%s: inheritance cycle through %s" % (s.line, s.name))
            seen.add(s.name)
            out.append(s)
            s = self.by_name[s.base] if s.base else None
        return list(reversed(out))

    def all_fields(self, s):
        out = []
        for c in self.chain(s):
            out.extend(c.fields)
        return out

    def descendants(self, s):
        """Concrete structures that are s or inherit from it, in schema order."""
        out = []
        for t in self.structs:
            if t.abstract:
                continue
            if any(c.name == s.name for c in self.chain(t)):
                out.append(t)
        return out

    def is_polymorphic(self, type_name):
        s = self.by_name.get(type_name)
        return s is not None and s.abstract

    def validate(self):
        for s in self.structs:
            if s.base and s.base not in self.by_name:
                raise SchemaError("%s: %s inherits unknown structure %s" % (s.line, s.name, s.base))
        for s in self.structs:
            self.chain(s)  # cycles
            seen_json = {}
            seen_cpp = {}
            for f in self.all_fields(s):
                if f.name in seen_json:
                    raise SchemaError("%s: field %s of %s repeats %s" % (f.line, f.name, s.name,
                                                                       seen_json[f.name]))
                if f.cpp in seen_cpp:
                    raise SchemaError("%s: C++ member %s of %s repeats %s" % (f.line, f.cpp, s.name,
                                                                             seen_cpp[f.cpp]))
                seen_json[f.name] = f.line
                seen_cpp[f.cpp] = f.line
                if f.cpp in CPP_KEYWORDS:
                    raise SchemaError("%s: member name %s is a C++ keyword; add cpp=<name>"
                                      % (f.line, f.cpp))
                if f.type not in SCALARS and f.type not in self.by_name:
                    raise SchemaError("%s: unknown type %s" % (f.line, f.type))
                if self.is_polymorphic(f.type) and not self.descendants(self.by_name[f.type]):
                    raise SchemaError("%s: abstract %s has no concrete structure to hold"
                                      % (f.line, f.type))

    def field_deps(self, s):
        """Structures whose complete definition s needs (base, member types)."""
        deps = []
        if s.base:
            deps.append(s.base)
        for f in s.fields:
            if f.type in SCALARS:
                continue
            t = self.by_name[f.type]
            if t.abstract:
                deps.extend(d.name for d in self.descendants(t))
            else:
                deps.append(t.name)
        return deps

    def dependency_order(self):
        order = []
        state = {}

        def visit(s, stack):
            st = state.get(s.name)
            if st == "done":
                return
            if st == "active":
                raise SchemaError("%s: structures contain each other: %s"
                                  % (s.line, " -> ".join(stack + [s.name])))
            state[s.name] = "active"
            for d in self.field_deps(s):
                visit(self.by_name[d], stack + [s.name])
            state[s.name] = "done"
            order.append(s)

        for s in self.structs:
            visit(s, [])
        return order

    def holders(self):
        """Abstract structures used as field types: each gets an Any<Name> std::variant."""
        used = []
        for s in self.structs:
            for f in s.fields:
                if self.is_polymorphic(f.type) and f.type not in used:
                    used.append(f.type)
        return [self.by_name[n] for n in used]

    def concrete(self):
        return [s for s in self.structs if not s.abstract]


def cpp_value_type(model, type_name):
    if type_name in SCALARS:
        return SCALARS[type_name]
    if model.is_polymorphic(type_name):
        return "Any" + type_name
    return type_name


def cpp_field_type(model, f):
    inner = cpp_value_type(model, f.type)
    return ("std::vector<%s>" if f.multiple else "std::optional<%s>") % inner


def cpp_string(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def wrap_comment(text, indent, width=100):
    words = text.split()
    lines = []
    current = indent + "//"
    for w in words:
        if len(current) + 1 + len(w) > width and current != indent + "//":
            lines.append(current)
            current = indent + "//"
        current += " " + w
    if current != indent + "//":
        lines.append(current)
    return lines


GENERATED_NOTE = ("// GENERATED by gateway/mesh/model/generate_model.py from "
                  "gateway/mesh/model/mesh.schema.\n// Do not edit; edit the schema or the "
                  "generator. docs/mesh-data-model.md describes both.\n")


def type_id(name):
    return "TypeId::k" + name


# ---------------------------------------------------------------------------------------------
# mesh_model.h

HEADER_PREAMBLE = """\
// NAME
//   mesh_model.h - the Mesh data model (seed sections 2 and 3) as C++ value types, with their
//   JSON codec.
//
// SYNOPSIS
//   #include "meshgate/mesh_model.h"
//   using namespace meshgate::mesh::model;
//
//   CatalogedContact entry;
//   entry.key = "MB2G-...";
//   ContactPerson person;
//   person.network_addresses.push_back({.address = "bob@example.com",
//                                       .protocols = {{.protocol = "smtp"}}});
//   entry.contact = person;                        // AnyContact: a std::variant
//   entry.permissions.push_back({.name = "Message", .role = "Sender"});
//   std::string text = serialize(entry);          // {"CatalogedContact":{...}}
//
//   Result<GetRequest> request = parse<GetRequest>(text);   // expects {"GetRequest":{...}}
//   Result<AnyMessage> any = parseMessage(text);            // any type; dispatch on the tag
//   if (const MeshRequest* r = any->get<MeshRequest>()) ...  // exact type or a base
//
//   nlohmann::json j = toJson(entry);                      // plain object, not wrapped
//   Result<CatalogedContact> back = fromJson<CatalogedContact>(j, "CatalogedContact");
//
// DESCRIPTION
//   One struct per schema structure, in namespace meshgate::mesh::model. Inheritance in the
//   schema is C++ inheritance (so a GetResponse is a MeshResponse), and flat in JSON: a derived
//   structure's object holds its base's members. Optional scalars and nested structures are
//   std::optional, lists are std::vector, a field of an abstract type (Contact, Key) is an
//   Any<Type> std::variant of the concrete types derived from it. Members are the snake_case
//   of the JSON names.
//
//   JSON (MESH-FORMATS section 4): members are omitted when absent (or empty lists); null
//   reads as absent; unknown members are ignored; Binary is base64url; DateTime is
//   yyyy-MM-ddTHH:mm:ssZ. toJson/fromJson handle the plain object; toTaggedJson/serialize,
//   parse<T> and parseMessage the top-level form wrapped by the type name. Polymorphic fields
//   are always wrapped. An abstract structure has toJson/fromJson but is never a top-level
//   type.
//
// THREAD SAFETY
//   Value types and pure functions. AnyMessage shares its (immutable) value between copies.
//
// ERRORS
//   Decoding returns kInvalidArgument naming the field path and what was wrong
//   ("CatalogedContact.Permissions[2].Name: expected a string, got number"), or
//   kResourceExhausted for text over ParseLimits. Nothing here throws (except std::bad_alloc
//   from encoders); decoders catch everything at their boundary.
"""


def gen_header(model):
    out = []
    w = out.append
    w(HEADER_PREAMBLE)
    w(GENERATED_NOTE)
    w("#pragma once\n\n")
    for inc in ["cstddef", "cstdint", "memory", "optional", "string", "string_view", "variant",
                "vector"]:
        w("#include <%s>\n" % inc)
    w("\n#include <nlohmann/json.hpp>\n\n")
    w('#include "gateway/mesh/dare.h"\n')
    w('#include "gateway/mesh/model/codec_support.h"\n')
    w('#include "gateway/util/encoding.h"\n')
    w('#include "gateway/util/status.h"\n\n')
    w("namespace meshgate::mesh::model {\n\n")

    # Type ids.
    w("// Every structure of the schema, in schema order.\n")
    w("enum class TypeId : std::uint16_t {\n  kNone = 0,\n")
    for s in model.structs:
        w("  k%s,\n" % s.name)
    w("};\n")
    w("inline constexpr std::size_t kTypeCount = %d;\n\n" % len(model.structs))

    w("// The JSON name of a type (\"\" for kNone).\nstd::string_view typeName(TypeId type);\n")
    w("// The type with that JSON name, abstract or not.\n"
      "std::optional<TypeId> typeIdFromName(std::string_view name);\n")
    w("bool isAbstract(TypeId type);\n")
    w("// The structure `type` inherits from, if any.\n"
      "std::optional<TypeId> baseType(TypeId type);\n")
    w("// True if `type` is `base` or inherits from it.\n"
      "bool inheritsFrom(TypeId type, TypeId base);\n\n")

    w("// Forward declarations.\n")
    for s in model.structs:
        w("struct %s;\n" % s.name)
    w("\n")

    holders = model.holders()
    if holders:
        w("// Polymorphic values: a field whose type is abstract holds one of the concrete types\n"
          "// derived from it, and is wrapped by that type's name in JSON.\n")
        for h in holders:
            alts = ", ".join(d.name for d in model.descendants(h))
            w("using Any%s = std::variant<%s>;\n" % (h.name, alts))
        w("\n")

    # Structures, in dependency order (a structure after its base and member types).
    for s in model.ordered:
        for line in s.description:
            for l in wrap_comment(line, ""):
                w(l + "\n")
        w("// Schema: %s%s%s (section %s).\n" % ("abstract " if s.abstract else "", s.name,
                                                  (" inherits " + s.base) if s.base else "",
                                                  s.section))
        w("struct %s%s {\n" % (s.name, (" : " + s.base) if s.base else ""))
        w("  static constexpr TypeId kTypeId = %s;\n" % type_id(s.name))
        w("  static constexpr std::string_view kTypeName = %s;\n" % cpp_string(s.name))
        w("  static constexpr bool kAbstract = %s;\n" % ("true" if s.abstract else "false"))
        if s.fields:
            w("\n")
        for f in s.fields:
            # The {} keeps designated initializers ({.address = ...}) free of
            # -Wmissing-field-initializers.
            decl = "  %s %s{};" % (cpp_field_type(model, f), f.cpp)
            comment = '"%s"' % f.name
            if model.is_polymorphic(f.type):
                comment += " (wrapped by type name)"
            if f.description:
                comment += ": " + f.description
            line = decl + "  // " + comment
            if len(line) <= 100:
                w(line + "\n")
            else:
                for l in wrap_comment(comment, "  "):
                    w(l + "\n")
                w(decl + "\n")
        w("\n  friend bool operator==(const %s&, const %s&) = default;\n" % (s.name, s.name))
        w("};\n\n")

    # Codec declarations.
    w("// JSON codec: the plain object (not wrapped by the type name).\n")
    for s in model.structs:
        w("nlohmann::json toJson(const %s& value);\n" % s.name)
    for h in holders:
        w("nlohmann::json toJson(const Any%s& value);  // wrapped: {\"<type>\":{...}}\n" % h.name)
    w("\n")
    w("// Decodes a plain object; `path` names it in error messages (e.g. \"CatalogedContact\").\n"
      "// Defined for every structure and every Any<Type> holder.\n")
    w("template <typename T>\n"
      "Result<T> fromJson(const nlohmann::json& json, std::string_view path);\n")
    for s in model.structs:
        w("template <>\nResult<%s> fromJson<%s>(const nlohmann::json& json, "
          "std::string_view path);\n" % (s.name, s.name))
    for h in holders:
        w("template <>\nResult<Any%s> fromJson<Any%s>(const nlohmann::json& json, "
          "std::string_view path);\n" % (h.name, h.name))
    w("\n")
    w("// Top-level form: {\"<TypeName>\":{...}} (concrete structures only).\n")
    for s in model.concrete():
        w("nlohmann::json toTaggedJson(const %s& value);\n" % s.name)
    w("\n")
    for s in model.concrete():
        w("std::string serialize(const %s& value);\n" % s.name)
    w("\n")

    w(ANY_MESSAGE)
    w("\n}  // namespace meshgate::mesh::model\n")
    return "".join(out)


ANY_MESSAGE = """\
// Any concrete structure of the schema, as parsed from its top-level (wrapped) form. Copies
// share the immutable value.
class AnyMessage {
 public:
  AnyMessage() = default;  // empty: type() == TypeId::kNone
  template <typename T>
    requires(!T::kAbstract)
  explicit AnyMessage(T value)
      : type_(T::kTypeId), value_(std::make_shared<const T>(std::move(value))) {}

  TypeId type() const { return type_; }
  std::string_view typeName() const { return model::typeName(type_); }
  bool empty() const { return type_ == TypeId::kNone; }

  // The value as T if it is a T or derives from T (get<MeshResponse>() of a GetResponse gives
  // its MeshResponse part); nullptr otherwise.
  template <typename T>
  const T* get() const {
    return static_cast<const T*>(upcast(T::kTypeId));
  }
  template <typename T>
  bool is() const {
    return upcast(T::kTypeId) != nullptr;
  }

  friend bool operator==(const AnyMessage& a, const AnyMessage& b);
  friend nlohmann::json toTaggedJson(const AnyMessage& message);

 private:
  friend Result<AnyMessage> fromTaggedJson(const nlohmann::json& json);
  AnyMessage(TypeId type, std::shared_ptr<const void> value)
      : type_(type), value_(std::move(value)) {}
  const void* upcast(TypeId target) const;

  TypeId type_ = TypeId::kNone;
  std::shared_ptr<const void> value_;
};

// {"<TypeName>":{...}}; an empty AnyMessage gives {}.
nlohmann::json toTaggedJson(const AnyMessage& message);
std::string serialize(const AnyMessage& message);

// Decodes {"<TypeName>":{...}} for any concrete structure of the schema. An unknown or
// abstract type name is an error.
Result<AnyMessage> fromTaggedJson(const nlohmann::json& json);

// Parses text (within `limits`) and decodes it as fromTaggedJson does.
Result<AnyMessage> parseMessage(std::string_view text, const ParseLimits& limits = {});

// Parses text that must be the wrapped form of T: {"<T::kTypeName>":{...}}.
template <typename T>
  requires(!T::kAbstract)
Result<T> parse(std::string_view text, const ParseLimits& limits = {}) {
  Result<nlohmann::json> json = parseJsonText(text, limits);
  if (!json.ok()) return json.status();
  std::string_view tag;
  const nlohmann::json* inner = nullptr;
  MESHGATE_RETURN_IF_ERROR(detail::unwrapTag(*json, detail::FieldPath("message"), &tag, &inner));
  if (tag != T::kTypeName) {
    return invalidArgument("expected a " + std::string(T::kTypeName) + ", got " +
                           detail::quoteForError(tag));
  }
  return fromJson<T>(*inner, T::kTypeName);
}
"""


# ---------------------------------------------------------------------------------------------
# mesh_model_codec.h (internal)

def gen_codec_header(model):
    out = []
    w = out.append
    w("// mesh_model_codec.h - internal to the generated codec: the per-structure encoders and\n"
      "// decoders the generated .cc files share. Use meshgate/mesh_model.h instead.\n")
    w(GENERATED_NOTE)
    w("#pragma once\n\n#include <exception>\n#include <new>\n#include <string>\n\n"
      '#include "meshgate/mesh_model.h"\n\n')
    w("namespace meshgate::mesh::model {\n\n")
    for s in model.structs:
        w("void encodeFields(const %s& value, nlohmann::json* out);\n" % s.name)
        w("Status decodeFields(const nlohmann::json& object, const detail::FieldPath& path, "
          "%s* out);\n" % s.name)
        w("nlohmann::json encodeValue(const %s& value);\n" % s.name)
        w("Status decodeValue(const nlohmann::json& json, const detail::FieldPath& path, "
          "%s* out);\n" % s.name)
    w("\n// Type-erased operations behind AnyMessage, one set per concrete structure (defined\n"
      "// beside its codec, so that their instantiations spread over the generated files).\n"
      "namespace dispatch {\n")
    for s in model.concrete():
        w("const void* upcast%s(const void* value, TypeId target);\n" % s.name)
        w("bool equal%s(const void* a, const void* b);\n" % s.name)
        w("nlohmann::json tagged%s(const void* value);\n" % s.name)
        w("Status decode%s(const nlohmann::json& json, std::string_view path, "
          "std::shared_ptr<const void>* out);\n" % s.name)
    w("}  // namespace dispatch\n\n")
    for h in model.holders():
        w("nlohmann::json encodeValue(const Any%s& value);\n" % h.name)
        w("Status decodeValue(const nlohmann::json& json, const detail::FieldPath& path, "
          "Any%s* out);\n" % h.name)
    w("""
namespace detail {

// The public decoders' boundary: nothing escapes as an exception.
template <typename T>
Result<T> decodeGuarded(const nlohmann::json& json, std::string_view path) {
  try {
    T value{};
    Status status = decodeValue(json, FieldPath(path), &value);
    if (!status.ok()) return status;
    return value;
  } catch (const std::bad_alloc&) {
    return resourceExhausted(std::string(path) + ": out of memory");
  } catch (const std::exception& e) {
    return internalError(std::string(path) + ": " + e.what());
  }
}

}  // namespace detail
}  // namespace meshgate::mesh::model
""")
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# mesh_model_codec_<i>.cc

def gen_struct_codec(model, s):
    out = []
    w = out.append
    n = s.name
    has_body = bool(s.fields) or bool(s.base)
    # encodeFields
    if has_body:
        w("void encodeFields(const %s& value, nlohmann::json* out) {\n" % n)
        if s.base:
            w("  encodeFields(static_cast<const %s&>(value), out);\n" % s.base)
        for f in s.fields:
            w("  detail::encodeField(out, %s, value.%s);\n" % (cpp_string(f.name), f.cpp))
        w("}\n\n")
        w("Status decodeFields(const nlohmann::json& object, const detail::FieldPath& path, "
          "%s* out) {\n" % n)
        if s.base:
            w("  MESHGATE_RETURN_IF_ERROR(decodeFields(object, path, static_cast<%s*>(out)));\n"
              % s.base)
        for f in s.fields:
            w("  MESHGATE_RETURN_IF_ERROR(detail::decodeField(object, %s, path, &out->%s));\n"
              % (cpp_string(f.name), f.cpp))
        w("  return Status();\n}\n\n")
    else:
        w("void encodeFields(const %s&, nlohmann::json*) {}\n\n" % n)
        w("Status decodeFields(const nlohmann::json&, const detail::FieldPath&, %s*) {\n"
          "  return Status();\n}\n\n" % n)
    w("nlohmann::json encodeValue(const %s& value) {\n"
      "  nlohmann::json out = nlohmann::json::object();\n"
      "  encodeFields(value, &out);\n"
      "  return out;\n}\n\n" % n)
    w("Status decodeValue(const nlohmann::json& json, const detail::FieldPath& path, %s* out) {\n"
      "  if (!json.is_object()) return detail::typeError(path, \"an object\", json);\n"
      "  return decodeFields(json, path, out);\n}\n\n" % n)
    w("nlohmann::json toJson(const %s& value) { return encodeValue(value); }\n\n" % n)
    w("template <>\nResult<%s> fromJson<%s>(const nlohmann::json& json, std::string_view path) {\n"
      "  return detail::decodeGuarded<%s>(json, path);\n}\n\n" % (n, n, n))
    if not s.abstract:
        w("nlohmann::json toTaggedJson(const %s& value) {\n"
          "  nlohmann::json out = nlohmann::json::object();\n"
          "  out[%s] = encodeValue(value);\n"
          "  return out;\n}\n\n" % (n, cpp_string(n)))
        w("std::string serialize(const %s& value) { return dumpJson(toTaggedJson(value)); }\n\n"
          % n)
        w("namespace dispatch {\n\n")
        w("const void* upcast%s(const void* value, TypeId target) {\n" % n)
        w("  const auto* typed = static_cast<const %s*>(value);\n  switch (target) {\n" % n)
        for c in reversed(model.chain(s)):
            if c is s:
                w("    case %s:\n      return typed;\n" % type_id(c.name))
            else:
                w("    case %s:\n      return static_cast<const %s*>(typed);\n"
                  % (type_id(c.name), c.name))
        w("    default:\n      return nullptr;\n  }\n}\n\n")
        w("bool equal%s(const void* a, const void* b) {\n"
          "  return *static_cast<const %s*>(a) == *static_cast<const %s*>(b);\n}\n\n" % (n, n, n))
        w("nlohmann::json tagged%s(const void* value) {\n"
          "  return toTaggedJson(*static_cast<const %s*>(value));\n}\n\n" % (n, n))
        w("Status decode%s(const nlohmann::json& json, std::string_view path,\n"
          "                std::shared_ptr<const void>* out) {\n"
          "  auto value = std::make_shared<%s>();\n"
          "  MESHGATE_RETURN_IF_ERROR(decodeValue(json, detail::FieldPath(path), value.get()));\n"
          "  *out = std::move(value);\n"
          "  return Status();\n}\n\n" % (n, n))
        w("}  // namespace dispatch\n\n")
    return "".join(out)


def gen_holder_codec(model, h):
    out = []
    w = out.append
    alts = model.descendants(h)
    n = "Any" + h.name
    w("nlohmann::json encodeValue(const %s& value) {\n" % n)
    w("  nlohmann::json out = nlohmann::json::object();\n")
    w("  switch (value.index()) {\n")
    for i, a in enumerate(alts):
        w("    case %d:\n      out[%s] = encodeValue(std::get<%d>(value));\n      break;\n"
          % (i, cpp_string(a.name), i))
    w("    default:\n      break;\n  }\n  return out;\n}\n\n")
    w("Status decodeValue(const nlohmann::json& json, const detail::FieldPath& path, %s* out) {\n"
      % n)
    w("  std::string_view tag;\n  const nlohmann::json* inner = nullptr;\n"
      "  MESHGATE_RETURN_IF_ERROR(detail::unwrapTag(json, path, &tag, &inner));\n"
      "  detail::FieldPath inner_path(&path, tag);\n")
    for a in alts:
        w("  if (tag == %s) {\n    %s value{};\n"
          "    MESHGATE_RETURN_IF_ERROR(decodeValue(*inner, inner_path, &value));\n"
          "    *out = std::move(value);\n    return Status();\n  }\n"
          % (cpp_string(a.name), a.name))
    expected = ", ".join(a.name for a in alts)
    w("  return detail::unknownTypeError(path, tag, %s);\n}\n\n" % cpp_string(expected))
    w("nlohmann::json toJson(const %s& value) { return encodeValue(value); }\n\n" % n)
    w("template <>\nResult<%s> fromJson<%s>(const nlohmann::json& json, std::string_view path) {\n"
      "  return detail::decodeGuarded<%s>(json, path);\n}\n\n" % (n, n, n))
    return "".join(out)


def gen_codec_files(model, count):
    # Balance the files by the number of fields each structure contributes.
    units = [(len(s.fields) + 4, "struct", s) for s in model.structs]
    units += [(len(model.descendants(h)) * 3, "holder", h) for h in model.holders()]
    buckets = [[] for _ in range(count)]
    weights = [0] * count
    for weight, kind, item in units:
        i = weights.index(min(weights))
        buckets[i].append((kind, item))
        weights[i] += weight
    files = []
    for i, bucket in enumerate(buckets):
        out = []
        w = out.append
        w("// mesh_model_codec_%d.cc - part %d of %d of the generated Mesh data model codec.\n"
          % (i, i + 1, count))
        w(GENERATED_NOTE)
        w('#include "meshgate/mesh_model_codec.h"\n\n#include <utility>\n#include <variant>\n\n'
          "namespace meshgate::mesh::model {\n\n")
        for kind, item in bucket:
            if kind == "struct":
                w(gen_struct_codec(model, item))
            else:
                w(gen_holder_codec(model, item))
        w("}  // namespace meshgate::mesh::model\n")
        files.append("".join(out))
    return files


# ---------------------------------------------------------------------------------------------
# mesh_model_types.cc: type table, AnyMessage dispatch.

def gen_types_cc(model):
    out = []
    w = out.append
    w("// mesh_model_types.cc - type names, inheritance and AnyMessage dispatch of the generated\n"
      "// Mesh data model.\n")
    w(GENERATED_NOTE)
    w('#include <algorithm>\n#include <array>\n#include <exception>\n#include <new>\n'
      '#include <utility>\n\n'
      '#include "meshgate/mesh_model_codec.h"\n\n'
      "namespace meshgate::mesh::model {\nnamespace {\n\n")
    w("struct TypeInfo {\n  std::string_view name;\n  bool abstract;\n  TypeId base;\n"
      "  // Null for abstract structures (never held by an AnyMessage).\n"
      "  const void* (*upcast)(const void* value, TypeId target);\n"
      "  bool (*equal)(const void* a, const void* b);\n"
      "  nlohmann::json (*tagged)(const void* value);\n"
      "  Status (*decode)(const nlohmann::json& json, std::string_view path,\n"
      "                   std::shared_ptr<const void>* out);\n};\n\n")
    w("// Indexed by TypeId.\nconstexpr std::array<TypeInfo, kTypeCount + 1> kTypes = {{\n")
    w("    {\"\", false, TypeId::kNone, nullptr, nullptr, nullptr, nullptr},\n")
    for s in model.structs:
        base = type_id(s.base) if s.base else "TypeId::kNone"
        if s.abstract:
            w("    {%s, true, %s, nullptr, nullptr, nullptr, nullptr},\n"
              % (cpp_string(s.name), base))
        else:
            n = s.name
            w("    {%s, false, %s, dispatch::upcast%s, dispatch::equal%s, dispatch::tagged%s,\n"
              "     dispatch::decode%s},\n" % (cpp_string(n), base, n, n, n, n))
    w("}};\n\n")
    names = sorted(model.structs, key=lambda s: s.name)
    w("// Sorted by name, for typeIdFromName.\n")
    w("constexpr std::array<std::pair<std::string_view, TypeId>, kTypeCount> kByName = {{\n")
    for s in names:
        w("    {%s, %s},\n" % (cpp_string(s.name), type_id(s.name)))
    w("}};\n\n")
    w("""const TypeInfo& info(TypeId type) {
  auto index = static_cast<std::size_t>(type);
  return kTypes[index < kTypes.size() ? index : 0];
}

}  // namespace

std::string_view typeName(TypeId type) { return info(type).name; }

std::optional<TypeId> typeIdFromName(std::string_view name) {
  auto it = std::lower_bound(kByName.begin(), kByName.end(), name,
                             [](const auto& entry, std::string_view n) { return entry.first < n; });
  if (it == kByName.end() || it->first != name) return std::nullopt;
  return it->second;
}

bool isAbstract(TypeId type) { return info(type).abstract; }

std::optional<TypeId> baseType(TypeId type) {
  TypeId base = info(type).base;
  if (base == TypeId::kNone) return std::nullopt;
  return base;
}

bool inheritsFrom(TypeId type, TypeId base) {
  if (type == TypeId::kNone) return false;
  for (TypeId t = type; t != TypeId::kNone; t = info(t).base) {
    if (t == base) return true;
  }
  return false;
}

const void* AnyMessage::upcast(TypeId target) const {
  const TypeInfo& type = info(type_);
  if (!value_ || type.upcast == nullptr) return nullptr;
  return type.upcast(value_.get(), target);
}

bool operator==(const AnyMessage& a, const AnyMessage& b) {
  if (a.type_ != b.type_) return false;
  if (a.value_ == b.value_) return true;
  if (!a.value_ || !b.value_) return false;
  const TypeInfo& type = info(a.type_);
  return type.equal != nullptr && type.equal(a.value_.get(), b.value_.get());
}

nlohmann::json toTaggedJson(const AnyMessage& message) {
  const TypeInfo& type = info(message.type_);
  if (!message.value_ || type.tagged == nullptr) return nlohmann::json::object();
  return type.tagged(message.value_.get());
}

std::string serialize(const AnyMessage& message) { return dumpJson(toTaggedJson(message)); }

Result<AnyMessage> fromTaggedJson(const nlohmann::json& json) {
  const detail::FieldPath root("message");
  std::string_view tag;
  const nlohmann::json* inner = nullptr;
  MESHGATE_RETURN_IF_ERROR(detail::unwrapTag(json, root, &tag, &inner));
  std::optional<TypeId> type = typeIdFromName(tag);
  if (!type || info(*type).decode == nullptr) return detail::unknownTypeError(root, tag, "");
  try {
    std::shared_ptr<const void> value;
    MESHGATE_RETURN_IF_ERROR(info(*type).decode(*inner, tag, &value));
    return AnyMessage(*type, std::move(value));
  } catch (const std::bad_alloc&) {
    return resourceExhausted(std::string(tag) + ": out of memory");
  } catch (const std::exception& e) {
    return internalError(std::string(tag) + ": " + e.what());
  }
}

Result<AnyMessage> parseMessage(std::string_view text, const ParseLimits& limits) {
  Result<nlohmann::json> json = parseJsonText(text, limits);
  if (!json.ok()) return json.status();
  return fromTaggedJson(*json);
}

}  // namespace meshgate::mesh::model
""")
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Round-trip test: one case per structure, every field filled with a distinct non-default value.

def gen_test(model):
    out = []
    w = out.append
    w("// mesh_model_roundtrip_test.cc - round trip of every structure of the schema, each with\n"
      "// every field (its base's included) set to a distinct non-default value, so that a field\n"
      "// the codec drops or misnames fails its structure's case.\n")
    w(GENERATED_NOTE)
    w("""#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "meshgate/mesh_model.h"
#include "tests/unit/model/model_test_support.h"

namespace meshgate::mesh::model {
namespace {

using testing_support::Filler;

""")
    # Forward declarations of fill functions.
    for s in model.structs:
        w("void fill(%s* value, Filler& f);\n" % s.name)
    for h in model.holders():
        w("Any%s sampleAny%s(Filler& f, std::size_t which);\n" % (h.name, h.name))
    w("\n")

    def fill_value(f, target):
        t = f.type
        if t == "String":
            return "%s = f.string(%s);" % (target, cpp_string(f.name))
        if t == "Boolean":
            return "%s = f.boolean();" % target
        if t == "Integer":
            return "%s = f.integer();" % target
        if t == "DateTime":
            return "%s = f.dateTime();" % target
        if t == "Binary":
            return "%s = f.bytes();" % target
        if t == "DareEnvelope":
            return "%s = f.envelope();" % target
        return None

    for h in model.holders():
        alts = model.descendants(h)
        w("Any%s sampleAny%s(Filler& f, std::size_t which) {\n  switch (which %% %d) {\n"
          % (h.name, h.name, len(alts)))
        for i, a in enumerate(alts):
            w("    case %d: {\n      %s value;\n      fill(&value, f);\n"
              "      return value;\n    }\n" % (i, a.name))
        w("    default:\n      return {};\n  }\n}\n\n")

    for s in model.structs:
        has_body = bool(s.fields) or bool(s.base)
        if not has_body:
            w("void fill(%s*, Filler&) {}\n\n" % s.name)
            continue
        w("void fill(%s* value, Filler& f) {\n" % s.name)
        if s.base:
            w("  fill(static_cast<%s*>(value), f);\n" % s.base)
        for fl in s.fields:
            target = "value->" + fl.cpp
            if fl.multiple:
                if fl.type in SCALARS:
                    w("  for (int i = 0; i < 2; ++i) {\n")
                    w("    %s.emplace_back();\n" % target)
                    w("    %s\n" % fill_value(fl, target + ".back()"))
                    w("  }\n")
                elif model.is_polymorphic(fl.type):
                    w("  for (std::size_t i = 0; i < 2; ++i) %s.push_back(sampleAny%s(f, i));\n"
                      % (target, fl.type))
                else:
                    w("  for (int i = 0; i < 2; ++i) fill(&%s.emplace_back(), f);\n" % target)
            else:
                if fl.type in SCALARS:
                    w("  %s\n" % fill_value(fl, target))
                elif model.is_polymorphic(fl.type):
                    w("  %s = sampleAny%s(f, f.next());\n" % (target, fl.type))
                else:
                    w("  fill(&%s.emplace(), f);\n" % target)
        w("}\n\n")

    # Expected JSON member names.
    for s in model.structs:
        keys = sorted(f.name for f in model.all_fields(s))
        w("const std::vector<std::string> k%sKeys = {%s};\n"
          % (s.name, ", ".join(cpp_string(k) for k in keys)))
    w("\n")
    for s in model.structs:
        w("TEST(ModelRoundTrip, %s) {\n" % s.name)
        w("  Filler f(%d);\n  %s value;\n  fill(&value, f);\n" % (model.structs.index(s) + 1,
                                                                  s.name))
        w("  testing_support::expectRoundTrip(value, k%sKeys);\n}\n\n" % s.name)
    for h in model.holders():
        alts = model.descendants(h)
        w("TEST(ModelRoundTrip, Any%s) {\n  Filler f(%d);\n"
          % (h.name, 1000 + model.structs.index(h)))
        w("  for (std::size_t i = 0; i < %d; ++i) {\n" % len(alts))
        w("    testing_support::expectHolderRoundTrip(sampleAny%s(f, i), %s);\n  }\n}\n\n"
          % (h.name, cpp_string(h.name)))
    w("TEST(ModelRoundTrip, EveryConcreteTypeIsDispatched) {\n")
    w("  const std::vector<std::string> names = {%s};\n"
      % ", ".join(cpp_string(s.name) for s in model.concrete()))
    w("  for (const std::string& name : names) {\n"
      "    Result<AnyMessage> any = parseMessage(\"{\\\"\" + name + \"\\\":{}}\");\n"
      "    ASSERT_TRUE(any.ok()) << name << \": \" << any.status().toString();\n"
      "    EXPECT_EQ(any->typeName(), name);\n"
      "    EXPECT_EQ(serialize(*any), \"{\\\"\" + name + \"\\\":{}}\");\n  }\n}\n\n")
    w("TEST(ModelRoundTrip, AbstractTypesAreNotTopLevel) {\n")
    w("  const std::vector<std::string> names = {%s};\n"
      % ", ".join(cpp_string(s.name) for s in model.structs if s.abstract))
    w("  for (const std::string& name : names) {\n"
      "    Result<AnyMessage> any = parseMessage(\"{\\\"\" + name + \"\\\":{}}\");\n"
      "    EXPECT_FALSE(any.ok()) << name;\n  }\n}\n\n")
    w("}  // namespace\n}  // namespace meshgate::mesh::model\n")
    return "".join(out)


def fit_line(line, width=100):
    """Breaks a generated C++ line longer than `width` after a ', ' or '(' outside string
    literals (comments are re-wrapped), so the output reads like the checked-in code."""
    if len(line) <= width:
        return [line]
    indent = line[:len(line) - len(line.lstrip())]
    if line.lstrip().startswith("//"):
        return wrap_comment(line.lstrip()[2:], indent, width)
    out = []
    rest = line
    prefix = ""
    while len(prefix + rest) > width:
        text = prefix + rest
        cut = -1
        in_string = False
        i = 0
        while i < len(text) and i < width:
            c = text[i]
            if in_string:
                if c == "\\":
                    i += 1
                elif c == '"':
                    in_string = False
            elif c == '"':
                in_string = True
            elif c == "(" and i + 1 < width and i > len(prefix):
                cut = i + 1
            elif c == "," and i + 1 < len(text) and text[i + 1] == " ":
                cut = i + 1
            i += 1
        if cut <= len(prefix):
            break
        out.append(text[:cut].rstrip())
        rest = text[cut:].lstrip()
        prefix = indent + "    "
    out.append(prefix + rest)
    return out


def fit(text):
    lines = []
    for line in text.split("\n"):
        lines.extend(fit_line(line))
    return "\n".join(lines)


def write(path, text):
    text = fit(text)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return
    except FileNotFoundError:
        pass
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schema", required=True)
    parser.add_argument("--out-dir")
    parser.add_argument("--cc-files", type=int, default=4)
    parser.add_argument("--test-out")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    try:
        model = Model(parse_schema(args.schema))
    except SchemaError as e:
        print("generate_model.py: %s" % e, file=sys.stderr)
        return 1
    except OSError as e:
        print("generate_model.py: %s" % e, file=sys.stderr)
        return 1
    if args.out_dir:
        write(os.path.join(args.out_dir, "mesh_model.h"), gen_header(model))
        write(os.path.join(args.out_dir, "mesh_model_codec.h"), gen_codec_header(model))
        write(os.path.join(args.out_dir, "mesh_model_types.cc"), gen_types_cc(model))
        for i, text in enumerate(gen_codec_files(model, max(1, args.cc_files))):
            write(os.path.join(args.out_dir, "mesh_model_codec_%d.cc" % i), text)
    if args.test_out:
        write(args.test_out, gen_test(model))
    return 0


if __name__ == "__main__":
    sys.exit(main())
