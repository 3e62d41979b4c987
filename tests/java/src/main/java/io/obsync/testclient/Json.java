package io.obsync.testclient;

/** JSON string quoting (RFC 8259), enough for the lines this client prints. */
final class Json {
  private Json() {}

  static void string(StringBuilder b, String s) {
    b.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        default -> {
          if (c < 0x20) {
            b.append(String.format("\\u%04x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    b.append('"');
  }

  /** Re-indents JSON text (two spaces), leaving strings and numbers exactly as written. */
  static String pretty(String json) {
    StringBuilder b = new StringBuilder(json.length() * 2);
    int depth = 0;
    boolean inString = false;
    for (int i = 0; i < json.length(); i++) {
      char c = json.charAt(i);
      if (inString) {
        b.append(c);
        if (c == '\\' && i + 1 < json.length()) {
          b.append(json.charAt(++i));
        } else if (c == '"') {
          inString = false;
        }
        continue;
      }
      switch (c) {
        case '"' -> {
          inString = true;
          b.append(c);
        }
        case '{', '[' -> {
          b.append(c);
          char next = i + 1 < json.length() ? json.charAt(i + 1) : ' ';
          if (next == '}' || next == ']') {
            b.append(json.charAt(++i));
          } else {
            depth++;
            newline(b, depth);
          }
        }
        case '}', ']' -> {
          depth--;
          newline(b, depth);
          b.append(c);
        }
        case ',' -> {
          b.append(c);
          newline(b, depth);
        }
        case ':' -> b.append(": ");
        case ' ', '\n', '\r', '\t' -> {}
        default -> b.append(c);
      }
    }
    return b.toString();
  }

  private static void newline(StringBuilder b, int depth) {
    b.append('\n');
    for (int i = 0; i < depth; i++) {
      b.append("  ");
    }
  }
}
