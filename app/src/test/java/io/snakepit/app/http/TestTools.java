package io.snakepit.app.http;

import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A Python adapter for the HTTP tests, for what the demo adapter does not
 * offer: every {@code ctx.session} method as a tool, and a stream that fails
 * after it started. It is written to a temporary directory that a pool gets as
 * its {@code python-path}, which is how users deploy their own adapters too.
 */
final class TestTools {

  /** The adapter spec of the module written by {@link #write()}. */
  static final String ADAPTER = "http_test_tools:HttpTestTools";

  private static final String SOURCE = """
      \"\"\"Tools for the app's HTTP tests (written by TestTools.java).\"\"\"
      import time
      from typing import Any, Dict, Iterator

      from snakepit_worker import Adapter, Context, tool


      class HttpTestTools(Adapter):
          @tool
          def get_meta(self, key: str, ctx: Context, default: Any = None) -> Any:
              return ctx.session.get_meta(key, default)

          @tool
          def set_meta(self, key: str, value: Any, ctx: Context) -> None:
              ctx.session.set_meta(key, value)

          @tool
          def get_var(self, name: str, ctx: Context, default: Any = None) -> Any:
              return ctx.session.get(name, default)

          @tool
          def set_var(self, name: str, value: Any, ctx: Context) -> None:
              ctx.session.set(name, value)

          @tool
          def delete_var(self, name: str, ctx: Context) -> None:
              ctx.session.delete(name)

          @tool
          def all_vars(self, ctx: Context) -> Dict[str, Any]:
              return ctx.session.all()

          @tool
          def write_until_deleted(self, ctx: Context) -> None:
              # Says it runs, then reads the session until it is gone (the test deletes it); the node's
              # session_not_found escapes the tool.
              ctx.session.set("started", True)
              deadline = time.monotonic() + 60
              while time.monotonic() < deadline:
                  ctx.session.get("go")
                  time.sleep(0.01)

          @tool
          def fail_after(self, n: int) -> Iterator[Dict[str, int]]:
              for i in range(n):
                  yield {"i": i}
              raise RuntimeError(f"failed after {n} items")
      """;

  private TestTools() {
  }

  /** Writes the module to a new temporary directory and returns the directory; delete it after the node. */
  static Path write() throws IOException {
    Path dir = Files.createTempDirectory("snakepit-http-tools-");
    Files.writeString(dir.resolve("http_test_tools.py"), SOURCE);
    return dir;
  }

  /** A pool of {@code size} workers serving these tools from {@code dir}. */
  static JsonObject pool(Path dir, int size) {
    return new JsonObject().put("size", size).put("adapter", ADAPTER).put("python-path", dir.toString());
  }
}
