// args.cc - see args.h.
#include "cli/args.h"

#include <iostream>

namespace meshgate::cli {

ArgParser::ArgParser(std::string command, std::string description)
    : command_(std::move(command)), description_(std::move(description)) {}

void ArgParser::flag(std::string name, std::string help, bool* out) {
  options_.push_back(Opt{std::move(name), "", std::move(help), out, nullptr, nullptr});
}

void ArgParser::option(std::string name, std::string metavar, std::string help, std::string* out,
                       bool required) {
  Opt o{std::move(name), std::move(metavar), std::move(help), nullptr, out, nullptr};
  o.required = required;
  options_.push_back(std::move(o));
}

void ArgParser::repeated(std::string name, std::string metavar, std::string help,
                         std::vector<std::string>* out) {
  options_.push_back(Opt{std::move(name), std::move(metavar), std::move(help), nullptr, nullptr, out});
}

void ArgParser::positional(std::string name, std::string help, std::string* out, bool required) {
  positionals_.push_back(Pos{std::move(name), std::move(help), out, required});
}

void ArgParser::rest(std::string name, std::string help, std::vector<std::string>* out) {
  rest_name_ = std::move(name);
  rest_help_ = std::move(help);
  rest_ = out;
}

ArgParser::Opt* ArgParser::find(const std::string& name) {
  for (auto& o : options_) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

int ArgParser::usageError(const std::string& message) const {
  std::cerr << command_ << ": " << message << "\n"
            << "Try '" << command_ << " --help' for more information.\n";
  return 2;
}

int ArgParser::parse(const std::vector<std::string>& args) {
  size_t next_positional = 0;
  bool options_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (!options_done && (a == "-h" || a == "--help")) {
      std::cout << help();
      return 0;
    }
    if (!options_done && a == "--") {
      options_done = true;
      continue;
    }
    if (!options_done && a.size() > 2 && a.compare(0, 2, "--") == 0) {
      std::string name = a.substr(2);
      std::string value;
      bool has_value = false;
      if (auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        has_value = true;
      }
      Opt* o = find(name);
      if (!o) return usageError("unknown option --" + name);
      o->seen = true;
      if (o->flag) {
        if (has_value) return usageError("--" + name + " takes no value");
        *o->flag = true;
        continue;
      }
      if (!has_value) {
        if (i + 1 >= args.size()) return usageError("--" + name + " needs a value (" + o->metavar + ")");
        value = args[++i];
      }
      if (o->value) *o->value = value;
      if (o->values) o->values->push_back(value);
      continue;
    }
    if (!options_done && a.size() > 1 && a[0] == '-' && a != "-") {
      return usageError("unknown option " + a);
    }
    if (next_positional < positionals_.size()) {
      *positionals_[next_positional++].value = a;
    } else if (rest_) {
      rest_->push_back(a);
    } else {
      return usageError("unexpected argument \"" + a + "\"");
    }
  }
  for (const auto& o : options_) {
    if (o.required && !o.seen) return usageError("missing required option --" + o.name);
  }
  for (size_t i = next_positional; i < positionals_.size(); ++i) {
    if (positionals_[i].required) return usageError("missing argument " + positionals_[i].name);
  }
  return kContinue;
}

std::string ArgParser::help() const {
  std::string u = "Usage: " + command_;
  if (!options_.empty()) u += " [OPTIONS]";
  for (const auto& p : positionals_) u += p.required ? " " + p.name : " [" + p.name + "]";
  if (rest_) u += " [" + rest_name_ + "...]";
  u += "\n\n" + description_ + "\n";
  auto pad = [](std::string s, size_t w) {
    if (s.size() < w) s.append(w - s.size(), ' ');
    else s += "  ";
    return s;
  };
  if (!positionals_.empty() || rest_) {
    u += "\nArguments:\n";
    for (const auto& p : positionals_) u += "  " + pad(p.name, 24) + p.help + "\n";
    if (rest_) u += "  " + pad(rest_name_ + "...", 24) + rest_help_ + "\n";
  }
  u += "\nOptions:\n";
  for (const auto& o : options_) {
    std::string left = "--" + o.name + (o.metavar.empty() ? "" : " " + o.metavar);
    std::string help = o.help;
    if (o.required) help += " (required)";
    if (o.values) help += " (repeatable)";
    u += "  " + pad(left, 24) + help + "\n";
  }
  u += "  " + pad("-h, --help", 24) + "show this help and exit\n";
  if (!epilog_.empty()) u += "\n" + epilog_ + "\n";
  return u;
}

}  // namespace meshgate::cli
