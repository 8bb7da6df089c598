// The CLI's configuration file. See cli_config.h.
#include "tools/cli_config.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace duijie::cli {
namespace {

// A TOML basic ("...") or literal ('...') string, or a bare word (for table
// names), at the start of *text; consumes it.
bool ReadString(absl::string_view* text, bool allow_bare, std::string* out,
                std::string* why) {
  out->clear();
  if (text->empty()) {
    *why = "a value is missing";
    return false;
  }
  const char quote = (*text)[0];
  if (quote == '\'' || quote == '"') {
    for (size_t i = 1; i < text->size(); ++i) {
      const char c = (*text)[i];
      if (c == quote) {
        text->remove_prefix(i + 1);
        return true;
      }
      if (quote == '"' && c == '\\' && i + 1 < text->size()) {
        const char next = (*text)[++i];
        if (next != '"' && next != '\\') {
          *why = absl::StrCat("unsupported escape \\", std::string(1, next));
          return false;
        }
        out->push_back(next);
        continue;
      }
      out->push_back(c);
    }
    *why = "a string is not closed";
    return false;
  }
  if (!allow_bare) {
    *why = "values are strings in quotes, e.g. server = \"127.0.0.1:50051\"";
    return false;
  }
  size_t n = 0;
  while (n < text->size() &&
         (absl::ascii_isalnum(static_cast<unsigned char>((*text)[n])) ||
          (*text)[n] == '-' || (*text)[n] == '_')) {
    ++n;
  }
  if (n == 0) {
    *why = "a name is missing";
    return false;
  }
  *out = std::string(text->substr(0, n));
  text->remove_prefix(n);
  return true;
}

// Whether only spaces and a comment are left.
bool OnlyComment(absl::string_view rest) {
  rest = absl::StripLeadingAsciiWhitespace(rest);
  return rest.empty() || rest[0] == '#';
}

}  // namespace

bool ParseConfig(const std::string& text, Config* config, std::string* error) {
  *config = Config();
  Context* context = nullptr;  // the table being read; null at top level
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    auto fail = [&](const std::string& why) {
      *error = absl::StrCat("line ", number, ": ", why);
      return false;
    };
    absl::string_view rest = absl::StripAsciiWhitespace(line);
    if (rest.empty() || rest[0] == '#') continue;
    std::string why;
    if (rest[0] == '[') {
      rest.remove_prefix(1);
      rest = absl::StripLeadingAsciiWhitespace(rest);
      if (!absl::ConsumePrefix(&rest, "context.")) {
        return fail("only [context.NAME] tables are known");
      }
      std::string name;
      if (!ReadString(&rest, /*allow_bare=*/true, &name, &why)) {
        return fail(why);
      }
      rest = absl::StripLeadingAsciiWhitespace(rest);
      if (!absl::ConsumePrefix(&rest, "]") || !OnlyComment(rest)) {
        return fail("expected ] after the context's name");
      }
      if (config->contexts.count(name) > 0) {
        return fail(absl::StrCat("context '", name, "' defined twice"));
      }
      context = &config->contexts[name];
      continue;
    }
    std::string key;
    if (!ReadString(&rest, /*allow_bare=*/true, &key, &why)) return fail(why);
    rest = absl::StripLeadingAsciiWhitespace(rest);
    if (!absl::ConsumePrefix(&rest, "=")) return fail("expected KEY = VALUE");
    rest = absl::StripLeadingAsciiWhitespace(rest);
    std::string value;
    if (!ReadString(&rest, /*allow_bare=*/false, &value, &why)) {
      return fail(why);
    }
    if (!OnlyComment(rest)) return fail("unexpected text after the value");
    if (context == nullptr) {
      if (key != "current_context") {
        return fail(absl::StrCat("unknown key '", key,
                                 "' (at the top: current_context)"));
      }
      config->current_context = value;
    } else if (key == "server") {
      context->server = value;
    } else if (key == "key_file") {
      context->key_file = value;
    } else if (key == "output") {
      if (value != "table" && value != "json" && value != "csv") {
        return fail(
            absl::StrCat("output '", value, "' is not table, json or csv"));
      }
      context->output = value;
    } else {
      return fail(absl::StrCat("unknown key '", key,
                               "' (a context has server, key_file, output)"));
    }
  }
  if (!config->current_context.empty() &&
      config->contexts.count(config->current_context) == 0) {
    *error =
        absl::StrCat("current_context '", config->current_context,
                     "' has no [context.", config->current_context, "] table");
    return false;
  }
  return true;
}

std::string ConfigPath() {
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg && *xdg) {
    return absl::StrCat(xdg, "/duijie/config.toml");
  }
  if (const char* home = std::getenv("HOME"); home && *home) {
    return absl::StrCat(home, "/.config/duijie/config.toml");
  }
  return "";
}

std::string ExpandHome(const std::string& path) {
  if (!absl::StartsWith(path, "~/")) return path;
  const char* home = std::getenv("HOME");
  if (home == nullptr || *home == '\0') return path;
  return absl::StrCat(home, path.substr(1));
}

namespace {

// The first line of `path`, trimmed; false when the file cannot be read.
bool ReadFirstLine(const std::string& path, std::string* line) {
  std::ifstream in(path);
  if (!in) return false;
  std::getline(in, *line);
  *line = std::string(absl::StripAsciiWhitespace(*line));
  return true;
}

}  // namespace

bool FindKey(const std::string& key_file, const std::string& source,
             const std::string& fallback_key_file,
             const std::string& fallback_source, std::string* key,
             std::string* key_source, std::string* error) {
  if (!key_file.empty()) {
    if (!ReadFirstLine(key_file, key)) {
      *error = absl::StrCat(source, ": cannot open ", key_file, ": ",
                            std::strerror(errno));
      return false;
    }
    if (key->empty()) {
      *error = absl::StrCat(source, ": the first line of ", key_file,
                            " is empty; it should hold the key's secret");
      return false;
    }
    *key_source = absl::StrCat(source, " ", key_file);
    return true;
  }
  if (const char* env = std::getenv("DUIJIE_KEY"); env && *env) {
    *key = env;
    *key_source = "$DUIJIE_KEY";
    return true;
  }
  if (!fallback_key_file.empty()) {
    return FindKey(fallback_key_file, fallback_source, "", "", key, key_source,
                   error);
  }
  std::string config;
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg && *xdg) {
    config = xdg;
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    config = absl::StrCat(home, "/.config");
  }
  if (!config.empty()) {
    const std::string path = absl::StrCat(config, "/duijie/key");
    if (ReadFirstLine(path, key) && !key->empty()) {
      *key_source = path;
    }
  }
  return true;
}

}  // namespace duijie::cli
