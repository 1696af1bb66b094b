package io.snakepit.app.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.app.TestNode;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.auth.JWTOptions;
import io.vertx.ext.auth.PubSecKeyOptions;
import io.vertx.ext.auth.jwt.JWTAuth;
import io.vertx.ext.auth.jwt.JWTAuthOptions;
import java.math.BigInteger;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.interfaces.RSAPublicKey;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * JWT authentication on a real node: tokens signed by the test's own RSA key (made here), checked for signature,
 * expiry, issuer and audience, with the role taken from a claim; and the same keys given as a JWKS file.
 */
class JwtAuthenticationTest {

  static Vertx vertx;
  static Path dir;
  static KeyPair trusted;
  static KeyPair stranger;
  static JWTAuth signer;
  static JWTAuth strangerSigner;

  @BeforeAll
  static void keys() throws Exception {
    vertx = Vertx.vertx();
    dir = Files.createTempDirectory("snakepit-jwt-");
    KeyPairGenerator gen = KeyPairGenerator.getInstance("RSA");
    gen.initialize(2048);
    trusted = gen.generateKeyPair();
    stranger = gen.generateKeyPair();
    Files.writeString(dir.resolve("jwt.pem"), pem("PUBLIC KEY", trusted.getPublic().getEncoded()));
    RSAPublicKey pub = (RSAPublicKey) trusted.getPublic();
    Files.writeString(dir.resolve("jwks.json"), new JsonObject().put("keys", new JsonArray().add(new JsonObject()
        .put("kty", "RSA").put("alg", "RS256").put("use", "sig").put("kid", "k1")
        .put("n", b64url(pub.getModulus())).put("e", b64url(pub.getPublicExponent())))).encode());
    signer = signer(trusted);
    strangerSigner = signer(stranger);
  }

  @AfterAll
  static void cleanUp() throws Exception {
    vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    TestNode.delete(dir);
  }

  private static String pem(String type, byte[] der) {
    return "-----BEGIN " + type + "-----\n" + Base64.getMimeEncoder(64, "\n".getBytes()).encodeToString(der)
        + "\n-----END " + type + "-----\n";
  }

  private static String b64url(BigInteger n) {
    byte[] b = n.toByteArray();
    if (b.length > 1 && b[0] == 0) {
      b = java.util.Arrays.copyOfRange(b, 1, b.length);
    }
    return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }

  private static JWTAuth signer(KeyPair pair) {
    return JWTAuth.create(vertx, new JWTAuthOptions().addPubSecKey(new PubSecKeyOptions().setAlgorithm("RS256")
        .setBuffer(pem("PRIVATE KEY", pair.getPrivate().getEncoded()))));
  }

  private static String token(JWTAuth by, JsonObject claims) {
    return by.generateToken(claims, new JWTOptions().setAlgorithm("RS256"));
  }

  private static JsonObject claims(String role) {
    JsonObject c = new JsonObject().put("sub", "jwt-user").put("iss", "https://issuer.test").put("aud", "snakepit")
        .put("exp", System.currentTimeMillis() / 1000 + 3600);
    return role == null ? c : c.put("role", role);
  }

  private static HttpResponse<String> send(TestNode node, String token, String method, String path, String body)
      throws Exception {
    return node.http.send(node.request(method, path, body).header("Authorization", "Bearer " + token).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static TestNode node(String id, JsonObject jwt) throws Exception {
    return TestNode.start(id, new JsonObject()
        .put("pools", new JsonObject().put("default", new JsonObject().put("size", 1)))
        .put("security", new JsonObject().put("jwt", jwt.put("issuer", "https://issuer.test").put("audience",
            "snakepit"))));
  }

  @Test
  void aTokenSignedByTheKeyWithTheRightClaimsGetsItsRoleAndEveryOtherIsRefused() throws Exception {
    try (TestNode node = node("jwt", new JsonObject().put("public-key-file", dir.resolve("jwt.pem").toString()))) {
      String caller = token(signer, claims("caller"));
      HttpResponse<String> ok = send(node, caller, "POST", "/v1/sessions", "{\"id\":\"j1\"}");
      assertThat(ok.statusCode()).isEqualTo(201);
      assertThat(new JsonObject(ok.body()).getJsonObject("metadata").getString("snakepit.principal"))
          .isEqualTo("jwt-user");
      assertThat(send(node, caller, "POST", "/v1/execute", "{\"tool\":\"echo\",\"session_id\":\"j1\"}").statusCode())
          .isEqualTo(200);
      assertThat(send(node, caller, "GET", "/v1/pools", null).statusCode()).isEqualTo(403);
      assertThat(send(node, token(signer, claims("reader")), "GET", "/v1/pools", null).statusCode()).isEqualTo(200);
      // Scoped by claims as keys are by the keys file.
      String scoped = token(signer, claims("caller").put("tools", new JsonArray().add("echo")));
      assertThat(send(node, scoped, "POST", "/v1/execute", "{\"tool\":\"add\",\"args\":{\"a\":1,\"b\":1}}")
          .statusCode()).isEqualTo(403);

      List<Object[]> refused = List.of(
          new Object[] {"expired", token(signer, claims("admin").put("exp", System.currentTimeMillis() / 1000 - 3600)),
              "expired"},
          new Object[] {"another issuer", token(signer, claims("admin").put("iss", "https://evil.test")), "issuer"},
          new Object[] {"another audience", token(signer, claims("admin").put("aud", "other")), "audience"},
          new Object[] {"another key", token(strangerSigner, claims("admin")), "signature"},
          new Object[] {"no expiry", noExp(), "expire"},
          new Object[] {"not a JWT", "eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln", "JWT"});
      for (Object[] r : refused) {
        HttpResponse<String> res = send(node, (String) r[1], "GET", "/v1/pools", null);
        assertThat(res.statusCode()).as((String) r[0]).isEqualTo(401);
        JsonObject err = new JsonObject(res.body()).getJsonObject("error");
        assertThat(err.getString("code")).isEqualTo("unauthenticated");
        assertThat(err.getString("message")).as((String) r[0]).contains((String) r[2]);
        assertThat(res.body()).doesNotContain(((String) r[1]).substring(((String) r[1]).lastIndexOf('.') + 1));
      }
      HttpResponse<String> noRole = send(node, token(signer, claims(null)), "GET", "/v1/pools", null);
      assertThat(noRole.statusCode()).isEqualTo(403);
      assertThat(noRole.body()).contains("'role' claim");
    }
  }

  private static String noExp() {
    JsonObject c = claims("admin");
    c.remove("exp");
    return token(signer, c);
  }

  @Test
  void theKeysMayComeAsAJwksFile() throws Exception {
    try (TestNode node = node("jwks", new JsonObject().put("jwks-file", dir.resolve("jwks.json").toString()))) {
      assertThat(send(node, token(signer, claims("reader")), "GET", "/v1/pools", null).statusCode()).isEqualTo(200);
      assertThat(send(node, token(strangerSigner, claims("reader")), "GET", "/v1/pools", null).statusCode())
          .isEqualTo(401);
    }
  }
}
