// The dashboard's page and script (tools/web/), compiled into duijie-web so
// that the binary serves them wherever it runs: from the build directory,
// from tools/run, or copied alone to another machine.
#ifndef DUIJIE_TOOLS_WEB_ASSETS_H_
#define DUIJIE_TOOLS_WEB_ASSETS_H_

#include <string>
#include <string_view>

namespace duijie::web {

// The bytes of tools/web/NAME ("index.html", "app.js"); null when there is
// no such file.
const std::string_view* FindWebAsset(const std::string& name);

}  // namespace duijie::web

#endif  // DUIJIE_TOOLS_WEB_ASSETS_H_
