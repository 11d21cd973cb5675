// layout.cc — see layout.h. Everything here is made from the field lists in bpf/er_shell.h.
#include "layout.h"

#include <cstddef>

#include "er_shell.h"

namespace {

// No struct has implicit padding and each is a multiple of 8 bytes: its members, explicit padding
// included, add up to its size (so every member starts where the one before ends).
#define ER_SIZE_OF_MEMBER(type, name) +sizeof(type)
#define ER_SIZE_OF_ARRAY(type, name, count) +sizeof(type) * (count)
#define ER_CHECK_PACKED(sname, FIELDS)                                                                           \
  static_assert(0 FIELDS(ER_SIZE_OF_MEMBER, ER_SIZE_OF_ARRAY) == sizeof(sname), #sname " has implicit padding"); \
  static_assert(sizeof(sname) % 8 == 0, #sname " is not a multiple of 8 bytes");
ER_STRUCTS(ER_CHECK_PACKED)
#undef ER_CHECK_PACKED
#undef ER_SIZE_OF_ARRAY
#undef ER_SIZE_OF_MEMBER

void Member(Napi::Env env, Napi::Object offsets, Napi::Object sizes, const char *name, size_t offset, size_t size) {
  offsets.Set(name, Napi::Number::New(env, static_cast<double>(offset)));
  sizes.Set(name, Napi::Number::New(env, static_cast<double>(size)));
}

}  // namespace

Napi::Value Layout(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Object structs = Napi::Object::New(env);

  // Every member, padding included, so that a test can prove the struct has no implicit padding.
#define ER_LAYOUT_MEMBER(type, name) Member(env, offsets, sizes, #name, offsetof(S, name), sizeof(S::name));
#define ER_LAYOUT_ARRAY(type, name, count) ER_LAYOUT_MEMBER(type, name)
#define ER_LAYOUT_STRUCT(sname, FIELDS)                                    \
  {                                                                        \
    using S = sname;                                                       \
    Napi::Object offsets = Napi::Object::New(env);                         \
    Napi::Object sizes = Napi::Object::New(env);                           \
    FIELDS(ER_LAYOUT_MEMBER, ER_LAYOUT_ARRAY)                              \
    Napi::Object s = Napi::Object::New(env);                               \
    s.Set("size", Napi::Number::New(env, static_cast<double>(sizeof(S)))); \
    s.Set("offsets", offsets);                                             \
    s.Set("sizes", sizes);                                                 \
    structs.Set(#sname, s);                                                \
  }
  ER_STRUCTS(ER_LAYOUT_STRUCT)
#undef ER_LAYOUT_STRUCT
#undef ER_LAYOUT_ARRAY
#undef ER_LAYOUT_MEMBER

  Napi::Object c = Napi::Object::New(env);
#define ER_LAYOUT_CONSTANT(name) c.Set(#name, Napi::Number::New(env, static_cast<double>(name)));
  ER_CONSTANTS(ER_LAYOUT_CONSTANT)
#undef ER_LAYOUT_CONSTANT

  Napi::Object out = Napi::Object::New(env);
  out.Set("structs", structs);
  out.Set("constants", c);
  return out;
}
