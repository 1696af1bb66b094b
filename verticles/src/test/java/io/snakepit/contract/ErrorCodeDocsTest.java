package io.snakepit.contract;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** docs/errors.md, the table callers read, lists every error code with its HTTP status, and no other. */
class ErrorCodeDocsTest {

  @Test
  void everyCodeIsDocumentedWithItsStatusAndTheTableHasNoOthers() throws Exception {
    String doc = Files.readString(Path.of("..", "docs", "errors.md"));
    Matcher row = Pattern.compile("(?m)^\\| `([a-z_]+)` \\| (\\d{3}) \\|").matcher(doc);
    Set<String> documented = new HashSet<>();
    while (row.find()) {
      documented.add(row.group(1) + " " + row.group(2));
    }
    Set<String> codes = new HashSet<>();
    for (ErrorCode c : ErrorCode.values()) {
      codes.add(c.code() + " " + c.httpStatus());
    }
    assertThat(documented).as("rows of docs/errors.md: `code` | HTTP status").isEqualTo(codes);
  }
}
