<?php
/**
 * Plugin Name: carecast publish
 * Description: Sends a post to carecast serve when an editor publishes it, and shows what carecast found (held for approval, blocked, published) as an admin notice on the post.
 * Version: 0.1.0
 * Requires at least: 6.0
 * Requires PHP: 8.0
 * License: Apache-2.0
 *
 * Settings (Settings > carecast): the service's URL, the brand and, optionally, the target
 * accounts. The API key is best kept out of the database: define CARECAST_API_KEY in
 * wp-config.php (or set the environment variable of that name); the settings field is used
 * only when neither is set. Make the key with: carecast serve add-client wordpress --brand B
 * --verb publish --verb status.
 *
 * What is sent: the title, the excerpt (or the start of the text), the permalink and the post's
 * id ("wp-SITE-ID", so publishing twice never posts twice). What is kept: carecast's answer,
 * which holds states and findings (where, and why; never the text a check flagged).
 */

if (!defined('ABSPATH')) {
    exit;
}

const CARECAST_OPTION = 'carecast_publish';
const CARECAST_META = '_carecast_result';

/** The settings, with defaults. */
function carecast_settings(): array
{
    $saved = get_option(CARECAST_OPTION, array());
    return wp_parse_args(is_array($saved) ? $saved : array(), array(
        'url' => '', 'brand' => '', 'accounts' => '', 'api_key' => '', 'timeout' => 20,
    ));
}

/** The API key: wp-config.php's constant, the environment, else the settings field. */
function carecast_api_key(): string
{
    if (defined('CARECAST_API_KEY')) {
        return (string) constant('CARECAST_API_KEY');
    }
    $env = getenv('CARECAST_API_KEY');
    return $env !== false && $env !== '' ? $env : (string) carecast_settings()['api_key'];
}

/** The post as carecast reads it (a carecast.Post as JSON). */
function carecast_post_body(WP_Post $post): array
{
    $settings = carecast_settings();
    $text = has_excerpt($post) ? $post->post_excerpt
        : wp_trim_words(strip_shortcodes($post->post_content), 55, '…');
    $body = array(
        'id' => 'wp-' . get_current_blog_id() . '-' . $post->ID,
        'title' => html_entity_decode(get_the_title($post), ENT_QUOTES, 'UTF-8'),
        'text' => html_entity_decode(wp_strip_all_tags($text), ENT_QUOTES, 'UTF-8'),
        'link' => get_permalink($post),
    );
    if ($settings['brand'] !== '') {
        $body['brand'] = $settings['brand'];
    }
    $accounts = array_values(array_filter(array_map('trim', explode(',', $settings['accounts']))));
    if ($accounts) {
        $body['targets'] = $accounts;
    }
    return $body;
}

/** Send a post to carecast and keep its answer (or the error) on the post. */
function carecast_send(WP_Post $post): array
{
    $settings = carecast_settings();
    if ($settings['url'] === '' || carecast_api_key() === '') {
        $result = array('error' => array('type' => 'NotConfigured', 'message' =>
            'set the carecast service URL and API key (Settings > carecast) to publish through carecast'));
    } else {
        $answer = wp_remote_post(untrailingslashit($settings['url']) . '/v1/posts', array(
            'timeout' => (int) $settings['timeout'],
            'headers' => array('Authorization' => 'Bearer ' . carecast_api_key(),
                               'Content-Type' => 'application/json'),
            'body' => wp_json_encode(array('action' => 'publish', 'post' => carecast_post_body($post))),
        ));
        if (is_wp_error($answer)) {
            $result = array('error' => array('type' => 'Unreachable', 'message' =>
                'carecast serve did not answer (' . $answer->get_error_message() . '); the post was not sent to social media'));
        } else {
            $decoded = json_decode(wp_remote_retrieve_body($answer), true);
            $result = is_array($decoded) ? $decoded : array('error' => array(
                'type' => 'BadAnswer', 'message' => 'carecast answered HTTP ' . wp_remote_retrieve_response_code($answer)));
            $result['http_status'] = wp_remote_retrieve_response_code($answer);
        }
    }
    $result['sent_at'] = gmdate('c');
    update_post_meta($post->ID, CARECAST_META, wp_slash(wp_json_encode($result)));
    return $result;
}

/** An editor published a post (not an update of a published one): send it. */
function carecast_on_transition(string $new, string $old, WP_Post $post): void
{
    if ($new !== 'publish' || $old === 'publish' || $post->post_type !== 'post'
            || wp_is_post_revision($post) || wp_is_post_autosave($post)) {
        return;
    }
    carecast_send($post);
}
add_action('transition_post_status', 'carecast_on_transition', 10, 3);

/** The stored answer as a notice: its level and its lines (plain text, escaped on output). */
function carecast_notice(int $post_id): ?array
{
    $raw = get_post_meta($post_id, CARECAST_META, true);
    $result = is_string($raw) && $raw !== '' ? json_decode($raw, true) : null;
    if (!is_array($result)) {
        return null;
    }
    if (isset($result['error'])) {
        return array('level' => 'error', 'lines' => array(
            'carecast: ' . $result['error']['type'] . ': ' . $result['error']['message']));
    }
    $lines = array();
    $level = 'success';
    $states = array();
    $rank = array('success' => 0, 'warning' => 1, 'error' => 2);
    foreach ($result['outcomes'] ?? array() as $outcome) {
        $states[$outcome['state']][] = $outcome['account'];
        $this_level = in_array($outcome['state'], array('published', 'pending'), true) ? 'success'
            : (in_array($outcome['state'], array('blocked', 'failed', 'unknown'), true) ? 'error' : 'warning');
        if ($rank[$this_level] > $rank[$level]) {
            $level = $this_level;
        }
    }
    $summary = array();
    foreach ($states as $state => $accounts) {
        $summary[] = str_replace('_', ' ', $state) . ': ' . implode(', ', $accounts);
    }
    $lines[] = 'carecast: ' . ($summary ? implode('; ', $summary) : 'no account');
    $seen = array();
    $findings = $result['findings'] ?? array();
    foreach ($result['outcomes'] ?? array() as $outcome) {
        $findings = array_merge($findings, $outcome['findings'] ?? array());
    }
    foreach ($findings as $finding) {
        $line = $finding['action'] . ' ' . $finding['code'] . ' (' . $finding['field'] . '): ' . $finding['message'];
        if (!isset($seen[$line])) {
            $seen[$line] = true;
            $lines[] = $line;
        }
    }
    return array('level' => $level, 'lines' => $lines);
}

/** The notice on the post's edit screen (the classic editor and the screen's header). */
function carecast_admin_notices(): void
{
    $screen = function_exists('get_current_screen') ? get_current_screen() : null;
    $post_id = isset($_GET['post']) ? absint($_GET['post']) : 0;
    if (!$screen || $screen->base !== 'post' || !$post_id || !current_user_can('edit_post', $post_id)) {
        return;
    }
    $notice = carecast_notice($post_id);
    if ($notice === null) {
        return;
    }
    echo '<div class="notice notice-' . esc_attr($notice['level']) . ' carecast-notice"><ul>';
    foreach ($notice['lines'] as $line) {
        echo '<li>' . esc_html($line) . '</li>';
    }
    echo '</ul></div>';
}
add_action('admin_notices', 'carecast_admin_notices');

/** The same notice in the block editor, through its notices store. */
function carecast_block_editor_notice(): void
{
    $post = get_post();
    if (!$post || !current_user_can('edit_post', $post->ID)) {
        return;
    }
    $notice = carecast_notice($post->ID);
    if ($notice === null) {
        return;
    }
    wp_add_inline_script('wp-notices', sprintf(
        'wp.data.dispatch("core/notices").createNotice(%s, %s, {isDismissible: true});',
        wp_json_encode($notice['level']), wp_json_encode(implode("\n", $notice['lines']))
    ), 'after');
}
add_action('enqueue_block_editor_assets', 'carecast_block_editor_notice');

/** Settings > carecast. */
function carecast_settings_page(): void
{
    register_setting('carecast', CARECAST_OPTION, array('sanitize_callback' => 'carecast_sanitize'));
    add_options_page('carecast', 'carecast', 'manage_options', 'carecast', function (): void {
        $s = carecast_settings();
        echo '<div class="wrap"><h1>carecast</h1><form method="post" action="options.php">';
        settings_fields('carecast');
        echo '<table class="form-table">';
        foreach (array('url' => 'Service URL (carecast serve)', 'brand' => 'Brand',
                       'accounts' => 'Accounts (comma-separated; empty: the brand\'s)') as $key => $label) {
            printf('<tr><th><label for="carecast-%1$s">%2$s</label></th><td><input class="regular-text" id="carecast-%1$s" name="%3$s[%1$s]" value="%4$s"></td></tr>',
                   esc_attr($key), esc_html($label), esc_attr(CARECAST_OPTION), esc_attr($s[$key]));
        }
        if (!defined('CARECAST_API_KEY') && getenv('CARECAST_API_KEY') === false) {
            printf('<tr><th><label for="carecast-key">API key</label></th><td><input type="password" class="regular-text" id="carecast-key" name="%s[api_key]" value="" autocomplete="off" placeholder="%s"><p class="description">Better: define CARECAST_API_KEY in wp-config.php.</p></td></tr>',
                   esc_attr(CARECAST_OPTION), $s['api_key'] !== '' ? 'set; leave empty to keep it' : '');
        }
        echo '</table>';
        submit_button();
        echo '</form></div>';
    });
}
add_action('admin_menu', 'carecast_settings_page');

/** Keep the settings to what they may be; an empty key field keeps the key already set. */
function carecast_sanitize($input): array
{
    $old = carecast_settings();
    $input = is_array($input) ? $input : array();
    return array(
        'url' => esc_url_raw(trim((string) ($input['url'] ?? $old['url'])), array('http', 'https')),
        'brand' => sanitize_key((string) ($input['brand'] ?? $old['brand'])),
        'accounts' => sanitize_text_field((string) ($input['accounts'] ?? $old['accounts'])),
        'api_key' => ($input['api_key'] ?? '') !== '' ? sanitize_text_field($input['api_key']) : $old['api_key'],
        'timeout' => max(1, min(60, (int) ($input['timeout'] ?? $old['timeout']))),
    );
}
