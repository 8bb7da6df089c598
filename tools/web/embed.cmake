# Writes OUTPUT, a C++ file defining duijie::web::FindWebAsset over the files
# given in ASSETS (a ;-list of paths), each as an array of its bytes: no
# escaping to get wrong, whatever the files hold.
#   cmake -DOUTPUT=web_assets.cc -DASSETS="a;b" -P embed.cmake
set(body "")
set(table "")
set(index 0)
foreach(path IN LISTS ASSETS)
  get_filename_component(name "${path}" NAME)
  file(READ "${path}" hex HEX)
  string(LENGTH "${hex}" hex_length)
  math(EXPR size "${hex_length} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${hex}")
  string(APPEND body "const char kAsset${index}[] = {${bytes} 0};\n")
  string(APPEND table
    "      {\"${name}\", std::string_view(kAsset${index}, ${size})},\n")
  math(EXPR index "${index} + 1")
endforeach()
file(WRITE "${OUTPUT}.tmp" "// Generated from tools/web/ by tools/web/embed.cmake: do not edit.
#include \"tools/web_assets.h\"

#include <map>

namespace duijie::web {
namespace {
${body}}  // namespace

const std::string_view* FindWebAsset(const std::string& name) {
  static const auto* const assets = new std::map<std::string, std::string_view>{
${table}  };
  auto it = assets->find(name);
  return it == assets->end() ? nullptr : &it->second;
}

}  // namespace duijie::web
")
# Rewritten only when it changes, so that a rebuild compiles it only then.
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
