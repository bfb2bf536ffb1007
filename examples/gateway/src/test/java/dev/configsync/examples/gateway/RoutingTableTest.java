package dev.configsync.examples.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.configsync.routes.KongRoutes;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Matching requests against the services and routes of a configuration. */
class RoutingTableTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  private static RoutingTable table(String json) throws Exception {
    JsonNode config = JSON.readTree(json.replace('\'', '"'));
    return RoutingTable.from("0123456789abcdef0123456789abcdef", config);
  }

  private static String route(RoutingTable table, String method, String host, String path) {
    return table.match(method, host, path).map(m -> m.route().name()).orElse("(none)");
  }

  private static String upstreamPath(RoutingTable table, String path) {
    return table.match("GET", "h", path).map(RoutingTable.Match::upstreamPath).orElse("(none)");
  }

  @Test
  void theLongestMatchingPathPrefixWins() throws Exception {
    RoutingTable t =
        table(
            "{'services':[{'name':'s','url':'http://s'}],'routes':["
                + "{'name':'root','service':'s','paths':['/']},"
                + "{'name':'api','service':'s','paths':['/api']},"
                + "{'name':'api-v2','service':'s','paths':['/other','/api/v2']}]}");
    assertThat(route(t, "GET", "h", "/")).isEqualTo("root");
    assertThat(route(t, "GET", "h", "/index.html")).isEqualTo("root");
    assertThat(route(t, "GET", "h", "/api/v1/x")).isEqualTo("api");
    assertThat(route(t, "GET", "h", "/api/v2/x")).isEqualTo("api-v2");
    // Prefixes are plain string prefixes, as in Kong: /api also matches /apis.
    assertThat(route(t, "GET", "h", "/apis")).isEqualTo("api");
  }

  @Test
  void hostsAndMethodsMustMatchWhenGivenAndBreakTies() throws Exception {
    RoutingTable t =
        table(
            "{'services':[{'name':'s','url':'http://s'}],'routes':["
                + "{'name':'any','service':'s','paths':['/p']},"
                + "{'name':'post','service':'s','paths':['/p'],'methods':['POST']},"
                + "{'name':'exact','service':'s','paths':['/p'],'hosts':['Shop.Example.com']},"
                + "{'name':'suffix','service':'s','paths':['/p'],'hosts':['*.example.org']},"
                + "{'name':'prefix','service':'s','paths':['/p'],'hosts':['internal.*']}]}");
    assertThat(route(t, "GET", "other", "/p")).isEqualTo("any");
    assertThat(route(t, "POST", "other", "/p")).isEqualTo("post");
    assertThat(route(t, "GET", "shop.example.com:8443", "/p")).isEqualTo("exact");
    assertThat(route(t, "POST", "SHOP.EXAMPLE.COM", "/p")).isEqualTo("exact");
    assertThat(route(t, "GET", "a.b.example.org", "/p")).isEqualTo("suffix");
    assertThat(route(t, "GET", "example.org", "/p")).isEqualTo("any");
    assertThat(route(t, "GET", "internal.corp", "/p")).isEqualTo("prefix");
    assertThat(route(t, "GET", null, "/p")).isEqualTo("any");
    assertThat(route(t, "GET", "other", "/q")).isEqualTo("(none)");
  }

  @Test
  void aLongerPathBeatsAHostMatch() throws Exception {
    RoutingTable t =
        table(
            "{'services':[{'name':'s','url':'http://s'}],'routes':["
                + "{'name':'host','service':'s','paths':['/'],'hosts':['h']},"
                + "{'name':'path','service':'s','paths':['/long']}]}");
    assertThat(route(t, "GET", "h", "/long/x")).isEqualTo("path");
    assertThat(route(t, "GET", "h", "/x")).isEqualTo("host");
  }

  @Test
  void stripPathRemovesTheMatchedPrefixAndTheServicePathIsPrepended() throws Exception {
    RoutingTable t =
        table(
            "{'services':[{'name':'plain','url':'http://p'},{'name':'based','url':'http://b/base/'}],"
                + "'routes':[{'name':'strip','service':'plain','paths':['/s']},"
                + "{'name':'keep','service':'plain','paths':['/k'],'strip_path':false},"
                + "{'name':'based','service':'based','paths':['/b']}]}");
    assertThat(upstreamPath(t, "/s")).isEqualTo("/");
    assertThat(upstreamPath(t, "/s/x/y")).isEqualTo("/x/y");
    assertThat(upstreamPath(t, "/sx")).isEqualTo("/x");
    assertThat(upstreamPath(t, "/k/x")).isEqualTo("/k/x");
    assertThat(upstreamPath(t, "/b")).isEqualTo("/base/");
    assertThat(upstreamPath(t, "/b/x%2Fy")).isEqualTo("/base/x%2Fy");
    assertThat(KongRoutes.join("/base", "x")).isEqualTo("/base/x");
  }

  @Test
  void anEmptyConfigurationRoutesNothing() throws Exception {
    RoutingTable t = table("{'_format_version':'3.0'}");
    assertThat(t.match("GET", "h", "/")).isEqualTo(Optional.empty());
  }

  @Test
  void refusesAConfigurationItCannotRouteBy() {
    // The full list of refusals is KongRoutesTest's, in the routes module; the table refuses the
    // same.
    assertRefused(
        "{'services':[{'name':'s','url':'http://s'}],"
            + "'routes':[{'name':'r','service':'ghost','paths':['/']}]}",
        "route 'r' names service 'ghost', which the configuration does not define");
  }

  private static void assertRefused(String json, String message) {
    assertThatThrownBy(() -> table(json))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(message);
  }
}
