// The CLI's configuration file,
// ${XDG_CONFIG_HOME:-~/.config}/duijie/config.toml: named contexts, each a
// server with the key to use there and the output format, and the one used by
// default.
//
//   current_context = "demo"
//
//   [context.demo]
//   server = "127.0.0.1:50051"
//   key_file = "~/.config/duijie/key"
//   output = "table"            # table, json or csv
//
//   [context.prod]
//   server = "duijie.example.org:50051"
//   key_file = "~/keys/platform.key"
//
// The file is a small subset of TOML: comments, a top-level
// `current_context`, `[context.NAME]` tables (NAME bare or quoted) holding
// `server`, `key_file` and `output`, values as basic strings ("..." with
// \" and \\ escapes) or literal strings ('...'). Anything else is an error
// naming the line, so that a typo does not pass unnoticed.
#ifndef DUIJIE_TOOLS_CLI_CONFIG_H_
#define DUIJIE_TOOLS_CLI_CONFIG_H_

#include <map>
#include <string>

namespace duijie::cli {

struct Context {
  std::string server;
  std::string key_file;
  std::string output;
};

struct Config {
  std::string current_context;
  std::map<std::string, Context> contexts;
};

// Parses the text of a config file; false with *error ("line N: ...") when
// it is not in the subset above.
bool ParseConfig(const std::string& text, Config* config, std::string* error);

// The path of the config file: $XDG_CONFIG_HOME/duijie/config.toml, else
// $HOME/.config/duijie/config.toml; empty when neither is set.
std::string ConfigPath();

// `path` with a leading "~/" replaced by $HOME.
std::string ExpandHome(const std::string& path);

// The API key, by the first that is set: `key_file` (read as `source`, e.g.
// "--key_file"), $DUIJIE_KEY (the secret itself), `fallback_key_file` (read
// as `fallback_source`), ${XDG_CONFIG_HOME:-~/.config}/duijie/key. The CLI
// and duijie-web pass --key_file or the --context's key_file as `key_file`
// and the current_context's as the fallback. Sets *key to the secret (left
// empty when none is found: calls go without one) and *key_source to where
// it came from, for messages. Returns false (with *error) only when a key
// file named by a flag or the config cannot be read.
bool FindKey(const std::string& key_file, const std::string& source,
             const std::string& fallback_key_file,
             const std::string& fallback_source, std::string* key,
             std::string* key_source, std::string* error);

}  // namespace duijie::cli

#endif  // DUIJIE_TOOLS_CLI_CONFIG_H_
