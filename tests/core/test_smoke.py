"""The shell answers: login page, role rules and the admin pages render."""


def test_login_page_renders(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert b'name="csrf_token"' in response.data


def test_admin_pages_render(admin_client):
    for url in ("/network/", "/network/customers", "/network/products", "/network/sites",
                "/network/plugins/", "/network/settings/", "/network/caught-mail/"):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert b"Customers" in response.data


def test_menu_marks_only_the_current_section(admin_client, customer):
    page = admin_client.get(f"/network/customers/{customer.id}").get_data(as_text=True)
    assert page.count('aria-current="page"') == 1
    assert 'href="/network/customers" aria-current="page"' in page
