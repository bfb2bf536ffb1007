package dev.configsync.examples.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The Kong-like subset: reading services and routes, and matching requests. */
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
  void readsServicesFromAUrlOrFromSeparateFields() throws Exception {
    RoutingTable t =
        table(
            "{'services':[{'name':'a','url':'https://api.example.com/v1','read_timeout':2500},"
                + "{'name':'b','host':'10.0.0.7','port':8080},"
                + "{'name':'c','protocol':'https','host':'::1','path':'/p'}]}");
    assertThat(t.services())
        .containsExactly(
            new RoutingTable.Service(
                "a", "https", "api.example.com", 443, "/v1", Duration.ofMillis(2500)),
            new RoutingTable.Service("b", "http", "10.0.0.7", 8080, "", Duration.ofSeconds(60)),
            new RoutingTable.Service("c", "https", "::1", 443, "/p", Duration.ofSeconds(60)));
    assertThat(t.services().get(2).origin()).isEqualTo("https://[::1]:443");
    assertThat(t.routes()).isEmpty();
  }

  @Test
  void readsNestedAndTopLevelRoutesReferringToServicesByNameOrId() throws Exception {
    RoutingTable t =
        table(
            "{'services':[{'name':'a','id':'11111111-aaaa','url':'http://a',"
                + "'routes':[{'name':'nested','paths':['/n']}]},{'name':'b','url':'http://b'}],"
                + "'routes':[{'name':'by-name','service':'b','paths':['/x']},"
                + "{'name':'by-object','service':{'name':'a'},'paths':['/y']},"
                + "{'id':'r-id','service':{'id':'11111111-aaaa'},'paths':['/z'],'hosts':null},"
                + "{'service':'b','methods':['get']}]}");
    assertThat(t.routes())
        .extracting(r -> r.name() + "->" + r.service().name())
        .containsExactly("nested->a", "by-name->b", "by-object->a", "r-id->a", "b/route-5->b");
    assertThat(t.routes().get(4).methods()).containsExactly("GET");
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
    assertThat(RoutingTable.join("/base", "x")).isEqualTo("/base/x");
  }

  @Test
  void anEmptyConfigurationRoutesNothing() throws Exception {
    RoutingTable t = table("{'_format_version':'3.0'}");
    assertThat(t.match("GET", "h", "/")).isEqualTo(Optional.empty());
  }

  @Test
  void refusesWhatItCannotServeWithAMessageNamingTheEntry() {
    assertRefused(
        "{'services':[{'name':'s','url':'http://s'}],"
            + "'routes':[{'name':'r','service':'ghost','paths':['/']}]}",
        "route 'r' names service 'ghost', which the configuration does not define");
    assertRefused(
        "{'services':[{'name':'s','url':'http://s'}],'routes':[{'name':'r','paths':['/']}]}",
        "route 'r' names no service");
    assertRefused(
        "{'services':[{'name':'s','url':'http://s'},{'name':'s','url':'http://t'}]}",
        "service 's' is defined twice");
    assertRefused("{'services':[{'url':'http://s'}]}", "service #1 has no name");
    assertRefused(
        "{'services':[{'name':'s','url':'grpc://s'}]}",
        "service 's': protocol 'grpc' is not supported");
    assertRefused(
        "{'services':[{'name':'s','url':'http://s','host':'t'}]}",
        "service 's' has both 'url' and 'host'");
    assertRefused("{'services':[{'name':'s','port':80}]}", "service 's' needs a 'url' or a 'host'");
    assertRefused(
        "{'services':[{'name':'s','host':'h','port':70000}]}",
        "service 's': port must be from 1 to 65535, got: 70000");
    assertRefused(
        "{'services':[{'name':'s','url':'http://s','routes':[{'name':'r','paths':['~/x$']}]}]}",
        "route 'r': regular expression path '~/x$' is not supported");
    assertRefused(
        "{'services':[{'name':'s','url':'http://s','routes':[{'name':'r','paths':['x']}]}]}",
        "route 'r': path must start with '/'");
    assertRefused(
        "{'services':[{'name':'s','url':'http://s','routes':[{'name':'r','hosts':['a:80']}]}]}",
        "route 'r': host 'a:80' is not supported");
    assertRefused(
        "{'services':[{'name':'s','url':'http://s','routes':[{'name':'r'}]}]}",
        "route 'r' matches nothing");
    assertRefused(
        "{'services':[{'name':'s','url':'http://s','routes':"
            + "[{'name':'r','paths':['/'],'headers':{'x':['1']}}]}]}",
        "route 'r': matching on 'headers' is not supported");
    assertRefused(
        "{'services':[{'name':'s','url':'http://s','routes':"
            + "[{'name':'r','paths':['/'],'preserve_host':true}]}]}",
        "route 'r': preserve_host is not supported");
    assertRefused(
        "{'services':[{'name':'s','url':'http://s','routes':"
            + "[{'name':'r','paths':['/'],'protocols':['grpc']}]}]}",
        "route 'r': protocols [grpc] has neither http nor https");
    assertRefused(
        "{'services':[{'name':'s','url':'http://s','routes':"
            + "[{'name':'r','paths':['/']},{'name':'r','paths':['/x']}]}]}",
        "route 'r' is defined twice");
    assertRefused("{'services':{}}", "the configuration: 'services' must be an array");
    assertRefused(
        "{'services':[{'name':'s','url':'http://s','routes':"
            + "[{'name':'r','paths':['/'],'strip_path':'yes'}]}]}",
        "route 'r': strip_path must be true or false");
  }

  private static void assertRefused(String json, String message) {
    assertThatThrownBy(() -> table(json))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(message);
  }
}
